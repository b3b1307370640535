"""``/metrics``: the health summary in Prometheus' text format (a few gauges, written out here
because they are a dozen lines and prometheus_client is not a dependency)."""
from __future__ import annotations

from typing import Any


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def metrics_text(h: dict[str, Any]) -> str:
    """Gauges: daemon up, jobs by state, queue depth, oldest waiting age, delivery per destination."""
    lines = ["# HELP spectssp_daemon_up 1 when a spectssp watch daemon holds the state folder.",
             "# TYPE spectssp_daemon_up gauge", f"spectssp_daemon_up {int(h['daemon_alive'])}",
             "# HELP spectssp_jobs Jobs in the ledger by state.", "# TYPE spectssp_jobs gauge"]
    lines += [f'spectssp_jobs{{state="{_label(k)}"}} {v}' for k, v in h["counts"].items()]
    lines += ["# HELP spectssp_queue_depth Jobs received, queued or running.", "# TYPE spectssp_queue_depth gauge",
              f"spectssp_queue_depth {h['queue_depth']}",
              "# HELP spectssp_oldest_waiting_seconds Age of the oldest job not yet ended (0: none).",
              "# TYPE spectssp_oldest_waiting_seconds gauge",
              f"spectssp_oldest_waiting_seconds {h['oldest_waiting_age_s'] or 0}",
              "# HELP spectssp_incoming_files Files in the watch folder not yet taken in.",
              "# TYPE spectssp_incoming_files gauge", f"spectssp_incoming_files {h['incoming_files']}",
              "# HELP spectssp_delivery Outbox items per destination and state.", "# TYPE spectssp_delivery gauge"]
    for name, d in h["delivery"].items():
        lines += [f'spectssp_delivery{{destination="{_label(name)}",state="{k}"}} {v}' for k, v in d.items()]
    return "\n".join(lines) + "\n"
