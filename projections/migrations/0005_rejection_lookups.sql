-- A user's rejected events (GET /v1/me) and one event's fate (Prefer: wait) are read by these.
CREATE INDEX IF NOT EXISTS rejections_user_time ON rejections (user_id, rejected_at_us);
CREATE INDEX IF NOT EXISTS rejections_event ON rejections (event_id);
