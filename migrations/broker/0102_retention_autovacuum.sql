-- Retention and Raft log compaction delete rows all the time: raft_log loses every entry a
-- snapshot covers (purge), partition_batches loses the batches retention trims. Postgres
-- reuses that space only after VACUUM, so autovacuum must visit these tables after a small
-- fraction of them died, not the default 20%, and must not sleep between pages (the default
-- cost delay throttles it to a crawl on a busy broker). The TOAST tables hold the entry and
-- batch bodies (STORAGE EXTERNAL), which is where almost all the bytes are.
ALTER TABLE raft_log SET (
    autovacuum_vacuum_scale_factor = 0.02,
    autovacuum_vacuum_threshold = 1000,
    autovacuum_vacuum_insert_scale_factor = 0.05,
    autovacuum_vacuum_cost_delay = 0,
    toast.autovacuum_vacuum_scale_factor = 0.02,
    toast.autovacuum_vacuum_threshold = 1000,
    toast.autovacuum_vacuum_cost_delay = 0
);

ALTER TABLE partition_batches SET (
    autovacuum_vacuum_scale_factor = 0.02,
    autovacuum_vacuum_threshold = 1000,
    autovacuum_vacuum_cost_delay = 0,
    toast.autovacuum_vacuum_scale_factor = 0.02,
    toast.autovacuum_vacuum_threshold = 1000,
    toast.autovacuum_vacuum_cost_delay = 0
);

-- One row per group, rewritten by every applied run: leave room on each page so the rewrite
-- stays a HOT update, and vacuum the dead versions early.
ALTER TABLE sm_state SET (
    fillfactor = 50,
    autovacuum_vacuum_scale_factor = 0.0,
    autovacuum_vacuum_threshold = 200
);
