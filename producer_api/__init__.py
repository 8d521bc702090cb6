"""The thin command API: validates the caller, asks the catalog for points, appends events to Kafka."""
