-- Raft log, vote and snapshot pointer of every Raft group hosted by one node.
-- One database per node: replicas never share these rows.
-- Values are MessagePack (rmp-serde) encodings of openraft types.

CREATE TABLE raft_vote (
    group_id UUID PRIMARY KEY,
    vote     BYTEA NOT NULL
);

CREATE TABLE raft_log (
    group_id  UUID   NOT NULL,
    log_index BIGINT NOT NULL CHECK (log_index >= 0),
    log_id    BYTEA  NOT NULL, -- the entry's LogId, so the log state is read without decoding entries
    entry     BYTEA  NOT NULL,
    PRIMARY KEY (group_id, log_index)
);
-- Batches are already compact and mostly incompressible: skip pglz on the hot path.
ALTER TABLE raft_log ALTER COLUMN entry SET STORAGE EXTERNAL;

CREATE TABLE raft_log_meta (
    group_id    UUID PRIMARY KEY,
    last_purged BYTEA -- LogId of the last purged entry; NULL when nothing was purged
);
