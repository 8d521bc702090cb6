"""The abuse scenario's parts beside its attacks (``bench/scenarios/abuse.py``): ``tally``, the pure
counting and summaries (unit-tested), and ``target``, the system under attack (the shipped services,
a worker restarted as a supervisor would, HTTP and Kafka reads)."""
