"""The fanout scenario's parts beside its run (``bench/scenarios/fanout.py``): ``latency`` and ``stages``, the
pure matching of the clients' frames and the processes' log lines to the updates (unit-tested), and
``target``, the system under fan-out (a multi-process gateway, py-spy on it, the raised file limit)."""
