-- Partition replicas hosted by one broker and their state machines.

-- Which partition replicas this broker hosts; a restarted broker reopens every row.
CREATE TABLE partition_groups (
    group_id   UUID PRIMARY KEY,
    topic      TEXT    NOT NULL,
    partition  INTEGER NOT NULL CHECK (partition >= 0),
    members    JSONB   NOT NULL, -- replica set given at creation (ids and addresses)
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (topic, partition)
);

-- Applied state of each partition. Changed in the same transaction as the rows it describes.
CREATE TABLE sm_state (
    group_id         UUID PRIMARY KEY,
    last_applied     BYTEA,           -- LogId; NULL before anything was applied
    last_membership  BYTEA  NOT NULL, -- StoredMembership
    next_offset      BIGINT NOT NULL, -- high watermark: offset the next record gets
    log_start_offset BIGINT NOT NULL  -- first offset still stored
);

-- Records: one row per producer batch, never one per record.
CREATE TABLE partition_batches (
    group_id     UUID    NOT NULL,
    base_offset  BIGINT  NOT NULL,
    record_count INTEGER NOT NULL CHECK (record_count > 0),
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    data         BYTEA   NOT NULL, -- the batch exactly as the producer encoded it
    PRIMARY KEY (group_id, base_offset)
);
ALTER TABLE partition_batches ALTER COLUMN data SET STORAGE EXTERNAL;

-- Idempotent-producer state: last sequences and the offsets they got.
CREATE TABLE producer_state (
    group_id    UUID  NOT NULL,
    producer_id UUID  NOT NULL,
    state       BYTEA NOT NULL,
    PRIMARY KEY (group_id, producer_id)
);

-- Consumer-group offsets, committed through the partition's Raft log.
CREATE TABLE consumer_offsets (
    group_id         UUID   NOT NULL,
    consumer_group   TEXT   NOT NULL,
    committed_offset BIGINT, -- NULL: the group was fenced but never committed here
    generation       BIGINT,
    PRIMARY KEY (group_id, consumer_group)
);

-- The current snapshot of each partition: its meta and the small state (producers, offsets,
-- watermarks). Records below the snapshot's next_offset are immutable, so they are read from
-- partition_batches when the snapshot is sent instead of being copied here.
CREATE TABLE partition_snapshot (
    group_id UUID PRIMARY KEY,
    meta     BYTEA NOT NULL,
    head     BYTEA NOT NULL
);
