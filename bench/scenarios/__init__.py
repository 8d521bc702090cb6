"""One module per scenario; each returns plain JSON-ready data for ``bench.results``."""
