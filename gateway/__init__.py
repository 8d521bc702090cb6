"""The push gateway: tails the compacted leaderboard-changes topic, pushes top-N changes to browsers."""
