#!/usr/bin/env python3
"""Per-second rates and ratios of broker counters between two /metrics scrapes (scripts/bench.sh).

    scripts/metrics-delta.py SECONDS BEFORE AFTER [BEFORE AFTER ...]
    scripts/metrics-delta.py --self-test

BEFORE/AFTER are Prometheus text scrapes of one broker's /metrics (files; an empty or missing
file is a failed scrape). With several pairs (one per broker) the deltas are summed: the
cluster's total. Prints one line for scripts:

    METRICS tx_per_s=.. tx_log_per_s=.. tx_state_per_s=.. entries_per_tx=.. groups_per_tx=..
            peer_msgs_per_s=.. rpcs_per_msg=.. append_rpcs_recv_per_s=.. produce_req_per_s=..

A value is `n/a` when a counter it needs is absent from an AFTER scrape (e.g. binaries that
predate it), went backwards (a restart) or a ratio's denominator did not move. A counter
present after but not before counts from 0 (series that appear on first use). Never fails
because of a metric; exits non-zero only on bad arguments.
"""

import re
import sys

# name{labels} value [timestamp]
SAMPLE = re.compile(r"^([A-Za-z_:][A-Za-z0-9_:]*)(\{[^}]*\})?\s+(\S+)")
LABEL = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"')

TX = "raftbus_storage_transactions_total"
ENTRIES = "raftbus_storage_entries_total"
GROUPS = "raftbus_storage_groups_total"
PEER_MSGS = "raftbus_peer_messages_sent_total"
PEER_RPCS = "raftbus_peer_rpcs_sent_total"
APPEND_RECV = "raftbus_raft_append_rpcs_received_total"
PRODUCE_REQ = "raftbus_produce_requests_total"


def parse(text):
    """{(name, frozenset(labels)): value} of every sample, and the set of names seen
    (samples or `# TYPE` lines: a labelled counter with no series yet is still present)."""
    samples, names = {}, set()
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("# TYPE "):
            parts = line.split()
            if len(parts) >= 3:
                names.add(parts[2])
            continue
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        if not m:
            continue
        try:
            value = float(m.group(3))
        except ValueError:
            continue
        labels = frozenset(LABEL.findall(m.group(2) or ""))
        samples[(m.group(1), labels)] = value
        names.add(m.group(1))
    return samples, names


def read(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return parse(f.read())
    except OSError:
        return {}, set()


def total(scrape, name, label=None):
    """Sum of NAME's series (only those with LABEL=(key, value) if given); None if absent."""
    samples, names = scrape
    if name not in names:
        return None
    return sum(
        v for (n, labels), v in samples.items() if n == name and (label is None or label in labels)
    )


def has_label(scrape, name, label):
    return any(n == name and label in labels for (n, labels) in scrape[0])


def delta(pairs, name, label=None):
    """Summed increase of NAME over all (before, after) pairs; None if any pair lacks it
    afterwards or it went backwards."""
    out = 0.0
    for before, after in pairs:
        a = total(after, name, label)
        if a is None:
            return None
        b = total(before, name, label) or 0.0
        if a < b:
            return None
        out += a - b
    return out


def fmt(v, digits):
    return "n/a" if v is None else f"{v:.{digits}f}"


def rate(d, secs):
    return None if d is None or secs <= 0 else d / secs


def ratio(num, den):
    return None if num is None or not den else num / den


def compute(secs, pairs):
    tx = delta(pairs, TX)
    lanes = {}
    for lane in ("log", "state"):
        key = ("lane", lane)
        # Shown apart only when the lane exists in every AFTER scrape.
        if pairs and all(has_label(after, TX, key) for _, after in pairs):
            lanes[lane] = delta(pairs, TX, key)
        else:
            lanes[lane] = None
    msgs = delta(pairs, PEER_MSGS)
    return {
        "tx_per_s": fmt(rate(tx, secs), 1),
        "tx_log_per_s": fmt(rate(lanes["log"], secs), 1),
        "tx_state_per_s": fmt(rate(lanes["state"], secs), 1),
        "entries_per_tx": fmt(ratio(delta(pairs, ENTRIES), tx), 2),
        "groups_per_tx": fmt(ratio(delta(pairs, GROUPS), tx), 2),
        "peer_msgs_per_s": fmt(rate(msgs, secs), 1),
        "rpcs_per_msg": fmt(ratio(delta(pairs, PEER_RPCS), msgs), 2),
        "append_rpcs_recv_per_s": fmt(rate(delta(pairs, APPEND_RECV), secs), 1),
        "produce_req_per_s": fmt(rate(delta(pairs, PRODUCE_REQ), secs), 1),
    }


def line(values):
    return "METRICS " + " ".join(f"{k}={v}" for k, v in values.items())


def self_test():
    old = parse(
        "# TYPE raftbus_raft_append_rpcs_received_total counter\n"
        "raftbus_raft_append_rpcs_received_total 100\n"
        "raftbus_produce_requests_total 10\n"
    )
    new = parse(
        "# HELP raftbus_raft_append_rpcs_received_total x\n"
        "raftbus_raft_append_rpcs_received_total 300\n"
        "raftbus_produce_requests_total 30\n"
    )
    v = compute(2.0, [(old, new)])
    assert v["append_rpcs_recv_per_s"] == "100.0", v
    assert v["produce_req_per_s"] == "10.0", v
    assert all(v[k] == "n/a" for k in ("tx_per_s", "entries_per_tx", "peer_msgs_per_s", "rpcs_per_msg")), v
    before = parse(
        'raftbus_storage_transactions_total{lane="log"} 10\n'
        'raftbus_storage_transactions_total{lane="state"} 10\n'
        "raftbus_storage_entries_total 0\n"
        "# TYPE raftbus_peer_messages_sent_total counter\n"
    )
    after = parse(
        'raftbus_storage_transactions_total{lane="log"} 30\n'
        'raftbus_storage_transactions_total{lane="state"} 20\n'
        "raftbus_storage_entries_total 120\n"
        "raftbus_storage_groups_total 60\n"
        'raftbus_peer_messages_sent_total{peer="2"} 40\n'
        'raftbus_peer_messages_sent_total{peer="3"} 60\n'
        'raftbus_peer_rpcs_sent_total{peer="2"} 150\n'
        'raftbus_peer_rpcs_sent_total{peer="3"} 150 1700000000000\n'
    )
    v = compute(10.0, [(before, after)])
    assert (v["tx_per_s"], v["tx_log_per_s"], v["tx_state_per_s"]) == ("3.0", "2.0", "1.0"), v
    assert (v["entries_per_tx"], v["groups_per_tx"]) == ("4.00", "2.00"), v
    assert (v["peer_msgs_per_s"], v["rpcs_per_msg"]) == ("10.0", "3.00"), v
    # Two brokers: summed. A failed scrape (empty) makes every value n/a.
    v = compute(10.0, [(before, after), (before, after)])
    assert v["tx_per_s"] == "6.0" and v["rpcs_per_msg"] == "3.00", v
    v = compute(10.0, [(before, after), (({}, set()), ({}, set()))])
    assert set(v.values()) == {"n/a"}, v
    # A counter that went backwards (restart) is n/a, not negative.
    v = compute(10.0, [(after, before)])
    assert v["tx_per_s"] == "n/a", v
    print("metrics-delta.py: self-test ok")


def main(argv):
    if argv[1:] == ["--self-test"]:
        self_test()
        return 0
    if len(argv) < 4 or len(argv) % 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    try:
        secs = float(argv[1])
    except ValueError:
        print(f"metrics-delta.py: SECONDS must be a number, got {argv[1]!r}", file=sys.stderr)
        return 2
    files = argv[2:]
    pairs = [(read(files[i]), read(files[i + 1])) for i in range(0, len(files), 2)]
    print(line(compute(secs, pairs)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
