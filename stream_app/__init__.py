"""The stream processor: reads the action log, keeps the ledger and boards, emits changes."""
