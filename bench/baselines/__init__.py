"""Reference servers run beside the real api in the ingest scenario, under the same uvicorn settings."""
