"""The fan-out benchmark's other processes: the viewers, the bare server, the probed serve.

Each module is a program of its own, started by ``scripts/benchmarks/fanout.py``
(they live here so ``scripts/bench``, which runs every ``scripts/benchmarks/*.py``,
does not start them alone).
"""
