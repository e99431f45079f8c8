"""Running a show for weeks: metrics, alerts, error reports and scheduled backups.

Each part watches the engine from outside (through its global event feed and
the archive's counters) and runs as a task of the composition root's nursery
(``app.serve``), started with ``run(*, task_status)``. See docs/operations.md.
"""

from panic_trio.operations.alerts import AlertBook, Alerts
from panic_trio.operations.backups import Backups
from panic_trio.operations.metrics import Metrics
from panic_trio.operations.notifiers import Alert, Notifiers
from panic_trio.operations.sentry import open_error_reports

__all__ = ["Alert", "AlertBook", "Alerts", "Backups", "Metrics", "Notifiers", "open_error_reports"]
