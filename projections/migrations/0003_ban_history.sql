-- Every effective ban or unban, so point-in-time boards (?as_of) know who was hidden at a moment.
-- The worker writes one row per status change it applies, in the batch transaction
-- (ON CONFLICT (event_id) DO NOTHING, so a replayed batch adds nothing). Until it does, the api
-- falls back to the latest status in user_status (see projections/asof.py).
CREATE TABLE IF NOT EXISTS ban_history (
    event_id        text    PRIMARY KEY,
    user_id         text    NOT NULL,
    banned          boolean NOT NULL,
    changed_at_us   bigint  NOT NULL,
    reason          text    NOT NULL,
    kafka_partition integer NOT NULL,
    kafka_offset    bigint  NOT NULL
);
CREATE INDEX IF NOT EXISTS ban_history_user_time ON ban_history (user_id, changed_at_us);

-- Point-in-time reads of daily and weekly windows scan the ledger by time.
CREATE INDEX IF NOT EXISTS ledger_time ON ledger (occurred_at_us);
