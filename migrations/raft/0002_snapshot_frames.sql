-- Snapshot frames received from a leader, staged until the state machine installs them.
-- A snapshot travels as a stream of bounded frames (raftbus-raft `snapshot.rs`); the receiver
-- writes each frame here as it arrives, so neither side holds a whole snapshot in memory, and
-- a broken transfer never touches the replica's state (it only leaves rows here, removed by
-- the receiver, by the next install of the group and at start-up).
CREATE TABLE raft_snapshot_frames (
    group_id UUID    NOT NULL,
    transfer UUID    NOT NULL, -- one receive; two concurrent senders never mix their frames
    seq      INTEGER NOT NULL CHECK (seq >= 0),
    data     BYTEA   NOT NULL,
    PRIMARY KEY (group_id, transfer, seq)
);
ALTER TABLE raft_snapshot_frames ALTER COLUMN data SET STORAGE EXTERNAL;
