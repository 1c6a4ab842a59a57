-- Cluster metadata of one manager: the state machine of the metadata Raft group.
-- Metadata is small, so it is one MessagePack blob written with last_applied.

CREATE TABLE meta_state (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    state BYTEA NOT NULL -- ClusterMeta, last_applied and membership
);

CREATE TABLE meta_snapshot (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    meta BYTEA NOT NULL,
    data BYTEA NOT NULL
);
