"""gunicorn's settings for this service (read from ./gunicorn.conf.py by default): metrics shared by
the worker processes, and logs in the shape of the application's (`LOG_FORMAT`).

Metrics: prometheus_client's multiprocess mode (https://prometheus.github.io/client_python/multiprocess/).
`PROMETHEUS_MULTIPROC_DIR` (default `$VAR_DIR/prometheus`) is set here, before anything imports
prometheus_client, so every worker writes its values there; the directory's files are removed when
gunicorn starts (values of an earlier run would be added to this one's), and a worker that exits is
marked dead so its live gauges go with it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

_var_dir = Path(os.environ.get("VAR_DIR") or Path(__file__).resolve().parent / "var")
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(_var_dir / "prometheus"))
METRICS_DIRECTORY = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])

# Imported only now: they import prometheus_client, which reads PROMETHEUS_MULTIPROC_DIR once.
from atmospro.env import Environment  # noqa: E402
from observability.logs import ACCESS_LOG_FORMAT, LOG_FORMATS, gunicorn_logging_config  # noqa: E402

_env = Environment()
wsgi_app = "atmospro.wsgi:application"
# A request mostly waits on GitHub (100-300 ms a call), so each worker process serves several at once
# in threads; processes give the cores. `--workers`/`--threads` on the command line override these.
worker_class = "gthread"
workers = _env.integer("WEB_CONCURRENCY", 2 * (os.cpu_count() or 1), minimum=1, maximum=64)
threads = _env.integer("GUNICORN_THREADS", 8, minimum=1, maximum=64)
timeout = 30  # GitHub's slowest answers are bounded well below this by the client's own timeouts
graceful_timeout = 20
keepalive = 5  # behind a load balancer that reuses connections
logconfig_dict = gunicorn_logging_config(
    log_format=_env.choice("LOG_FORMAT", "plain" if _env.boolean("DEBUG", True) else "json", choices=LOG_FORMATS),
    level=_env.string("LOG_LEVEL", "INFO"),
)
access_log_format = ACCESS_LOG_FORMAT


def on_starting(server: Any) -> None:
    # Once, at the first start (a reload, HUP, reads this file again but does not call this hook).
    for stale in METRICS_DIRECTORY.glob("*.db"):
        stale.unlink()


def child_exit(server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
