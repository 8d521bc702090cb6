-- Issue 14: what the detectors read from the ledger, held and voided entries, and reviews.
-- An entry's state: 'counted' (on the boards), 'held' (accepted while its user was under a review that
-- holds points: not on the public boards) or 'voided' (a rejected review or a purge). total_after never
-- changes after the entry is written.
ALTER TABLE ledger ADD COLUMN IF NOT EXISTS state text NOT NULL DEFAULT 'counted';
ALTER TABLE ledger ADD COLUMN IF NOT EXISTS client_hash text NOT NULL DEFAULT '';
ALTER TABLE ledger ADD COLUMN IF NOT EXISTS device_hash text NOT NULL DEFAULT '';
ALTER TABLE ledger ADD COLUMN IF NOT EXISTS ticket_started_at_us bigint NOT NULL DEFAULT 0;
ALTER TABLE ledger ADD COLUMN IF NOT EXISTS refused_before bigint NOT NULL DEFAULT 0;
-- The worker warms a partition's detectors from its recent entries; a purge finds one action's entries.
CREATE INDEX IF NOT EXISTS ledger_partition_time ON ledger (kafka_partition, occurred_at_us);
CREATE INDEX IF NOT EXISTS ledger_held ON ledger (user_id) WHERE state = 'held';

-- When each user's first action was accepted (the swarm detector's "new account").
CREATE TABLE IF NOT EXISTS user_profiles (
    user_id        text   PRIMARY KEY,
    first_seen_us  bigint NOT NULL
);

-- Every review, raised by a detector or a moderator; a user's latest is the one with the highest offset.
CREATE TABLE IF NOT EXISTS reviews (
    flag_event_id     text    PRIMARY KEY,
    user_id           text    NOT NULL,
    detector          text    NOT NULL,
    state             text    NOT NULL,
    shadow            boolean NOT NULL,
    flagged_at_us     bigint  NOT NULL,
    hold_from_us      bigint  NOT NULL,
    evidence          text    NOT NULL,
    flagged_by        text    NOT NULL,
    kafka_partition   integer NOT NULL,
    kafka_offset      bigint  NOT NULL,
    decided_by        text    NOT NULL DEFAULT '',
    decided_reason    text    NOT NULL DEFAULT '',
    decided_at_us     bigint  NOT NULL DEFAULT 0,
    decision_event_id text    NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS reviews_user ON reviews (user_id, kafka_offset DESC);
CREATE INDEX IF NOT EXISTS reviews_queue ON reviews (state, flagged_at_us DESC);

-- The score changes a decision or a purge made, by the log position of that event, so that a replay
-- after a crash publishes them again.
CREATE TABLE IF NOT EXISTS moderation_changes (
    kafka_partition integer NOT NULL,
    kafka_offset    bigint  NOT NULL,
    seq             integer NOT NULL,
    event_id        text    NOT NULL,
    user_id         text    NOT NULL,
    action_id       text    NOT NULL,
    points          bigint  NOT NULL,
    total           bigint  NOT NULL,
    occurred_at_us  bigint  NOT NULL,
    PRIMARY KEY (kafka_partition, kafka_offset, seq)
);

-- Users who acted before this migration are not new accounts.
INSERT INTO user_profiles (user_id, first_seen_us)
SELECT user_id, min(occurred_at_us) FROM ledger GROUP BY user_id
ON CONFLICT DO NOTHING;
