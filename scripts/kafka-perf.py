#!/usr/bin/env python3
"""librdkafka (confluent-kafka) producing to Raftbus' Kafka listener, for scripts/bench.sh.

    kafka-perf.py PROPS_FILE TOPIC SECS SIZE WINDOW

PROPS_FILE holds the librdkafka properties as a JSON object (a file keeps the token out of
`ps` and logs).

Sends SIZE-byte records (acks=all, idempotent) for SECS seconds with at most WINDOW records
awaiting acknowledgement (0: unbounded, librdkafka's own queue limits only), then prints the
same RESULT line as `producer perf`: records, rec_per_s, mb_per_s, p50_ms, p99_ms, max_ms,
max_gap_ms (longest time without an acknowledgement), failed.
"""
import json
import sys
import time

from confluent_kafka import Producer


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        props = json.load(f)
    topic = sys.argv[2]
    secs, size, window = float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    props.update({"acks": "all", "enable.idempotence": True, "linger.ms": 5,
                  "queue.buffering.max.messages": 1000000})
    p = Producer(props)
    value = b"x" * size
    lat, acked_at, failed = [], [], [0]
    start = time.monotonic()

    def report(err, _msg, sent):
        now = time.monotonic()
        if err is None:
            lat.append(now - sent)
            acked_at.append(now)
        else:
            failed[0] += 1

    sent = 0
    while time.monotonic() - start < secs:
        if window and sent - len(lat) - failed[0] >= window:
            p.poll(0.0005)
            continue
        t = time.monotonic()
        try:
            p.produce(topic, value=value, on_delivery=lambda e, m, t=t: report(e, m, t))
            sent += 1
        except BufferError:
            p.poll(0.001)
        p.poll(0)
    p.flush(60)
    end = time.monotonic()
    lat.sort()
    pct = (lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000 if lat else 0.0)
    gaps = [b - a for a, b in zip([start] + acked_at, acked_at + [end])]
    n = len(lat)
    print(f"RESULT records={n} rec_per_s={n / (end - start):.1f} "
          f"mb_per_s={n * size / (end - start) / 1048576:.2f} p50_ms={pct(0.5):.2f} "
          f"p99_ms={pct(0.99):.2f} max_ms={(lat[-1] * 1000 if lat else 0):.2f} "
          f"max_gap_ms={max(gaps) * 1000:.1f} failed={sent - n}")


if __name__ == "__main__":
    main()
