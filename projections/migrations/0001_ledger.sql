-- The ledger: one row per accepted action. (user_id, nonce) is the idempotency key.
CREATE TABLE IF NOT EXISTS ledger (
    id              bigserial PRIMARY KEY,
    event_id        text        NOT NULL UNIQUE,
    user_id         text        NOT NULL,
    nonce           text        NOT NULL,
    action_id       text        NOT NULL,
    points          bigint      NOT NULL,
    catalog_version text        NOT NULL,
    occurred_at_us  bigint      NOT NULL,
    kafka_partition integer     NOT NULL,
    kafka_offset    bigint      NOT NULL,
    total_after     bigint      NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT ledger_user_nonce UNIQUE (user_id, nonce)
);
CREATE INDEX IF NOT EXISTS ledger_user_time ON ledger (user_id, occurred_at_us);

-- Per-board standings; seq counts applied entries so Redis can refuse stale writes.
CREATE TABLE IF NOT EXISTS board_scores (
    board          text   NOT NULL,
    user_id        text   NOT NULL,
    score          bigint NOT NULL,
    seq            bigint NOT NULL,
    reached_at_us  bigint NOT NULL,
    PRIMARY KEY (board, user_id)
);
CREATE INDEX IF NOT EXISTS board_scores_rank ON board_scores (board, score DESC, reached_at_us);
