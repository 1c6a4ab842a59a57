-- Topics, the bulk of the metadata, in one row each: an apply writes only the topics it
-- changed (a leader change rewrites one topic, not every topic). meta_state keeps the rest
-- of ClusterMeta, with an empty topic map. A meta_state written before this migration still
-- holds its topics; the manager moves them into rows on its first apply.

CREATE TABLE meta_topics (
    name  TEXT PRIMARY KEY,
    topic BYTEA NOT NULL -- TopicRecord (MessagePack)
);
