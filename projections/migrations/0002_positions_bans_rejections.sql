-- Tracking records: the next offset to apply per partition of the actions topic. Written in the same
-- transaction as the effects, so an event at an earlier offset is recognised as a replay.
CREATE TABLE IF NOT EXISTS log_positions (
    kafka_partition integer PRIMARY KEY,
    next_offset     bigint  NOT NULL
);

-- Bans, in log order; the latest event decides.
CREATE TABLE IF NOT EXISTS user_status (
    user_id        text    PRIMARY KEY,
    banned         boolean NOT NULL,
    event_id       text    NOT NULL,
    changed_at_us  bigint  NOT NULL,
    reason         text    NOT NULL
);

-- The audit trail of records that were not applied.
CREATE TABLE IF NOT EXISTS rejections (
    kafka_partition integer NOT NULL,
    kafka_offset    bigint  NOT NULL,
    event_id        text    NOT NULL,
    user_id         text    NOT NULL,
    reason          text    NOT NULL,
    rejected_at_us  bigint  NOT NULL,
    PRIMARY KEY (kafka_partition, kafka_offset)
);

ALTER TABLE board_scores ADD COLUMN IF NOT EXISTS visible boolean NOT NULL DEFAULT true;
CREATE INDEX IF NOT EXISTS board_scores_user ON board_scores (user_id);
CREATE INDEX IF NOT EXISTS ledger_position ON ledger (kafka_partition, kafka_offset);
