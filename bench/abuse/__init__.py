"""The abuse scenario's parts beside its run (``bench/scenarios/abuse.py``): ``plan`` (its sizes and the
requests' shapes), one module per attack (``farming``, ``limits``, ``forgery``, ``key_reuse``), ``tally``,
the pure counting and summaries (unit-tested), and ``target``, the system under attack (the shipped
services, a worker restarted as a supervisor would, HTTP and Kafka reads)."""
