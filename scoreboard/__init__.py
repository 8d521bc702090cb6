"""Live Scoreboard: shared domain core, settings and the command line."""
