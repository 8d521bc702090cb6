-- Per-user usage counters the worker judges the catalog's policy by (cooldowns, daily caps, points
-- budgets; see scoreboard/policy.py). One row per (user, counter): `time_window` is the UTC hour or day
-- the amount belongs to, so the state stays bounded. Written in the batch transaction, like the scores,
-- so a rebuild from the log reproduces it.
CREATE TABLE IF NOT EXISTS usage_counters (
    user_id     text   NOT NULL,
    counter     text   NOT NULL,
    time_window bigint NOT NULL,
    amount      bigint NOT NULL,
    PRIMARY KEY (user_id, counter)
);
