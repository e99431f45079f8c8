"""Several processes on one database: who runs which network.

On SQLite one process runs every network (:func:`sole_runner` refuses a
second). On PostgreSQL each network is run by the process that holds its
lease (:class:`Leases`), with a fencing epoch every write of a run checks;
see docs/architecture.md.
"""

from panic_trio.nodes.backplane import Backplane
from panic_trio.nodes.leases import Leases
from panic_trio.nodes.relay import Relay
from panic_trio.nodes.sole import sole_runner

__all__ = ["Backplane", "Leases", "Relay", "sole_runner"]
