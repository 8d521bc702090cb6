"""Projections of the action log: the Postgres ledger and the Redis boards. Both can be rebuilt."""
