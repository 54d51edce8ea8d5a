"""How far behind the store each view is, in events and in seconds, and the Prometheus text that shows it.

Seconds behind is the age of the oldest event a view has not applied yet (0 when it is caught up): the time a
dashboard's reader may be missing something, which is what an alert should watch.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from services.projections.application import EventStoreReader, RunnerStats
from services.projections.rebuild import RebuildProgress


@dataclass(frozen=True)
class Lag:
    view: str
    position: int
    events: int
    seconds: float


def measure(store: EventStoreReader, positions: Mapping[str, int], now: float | None = None) -> tuple[int, list[Lag]]:
    """The store's last position and each view's lag behind it."""
    now = time.time() if now is None else now
    head = store.recorder.max_notification_id() or 0
    ages: dict[int, float] = {}
    lags = []
    for view, position in positions.items():
        behind = max(0, head - position)
        if behind and position not in ages:
            ages[position] = _age_of_next(store, position, now)
        lags.append(Lag(view, position, behind, round(ages.get(position, 0.0), 3) if behind else 0.0))
    return head, lags


def _age_of_next(store: EventStoreReader, position: int, now: float) -> float:
    following = store.recorder.select_notifications(start=position + 1, limit=1)
    if not following:
        return 0.0
    event: Any = store.mapper.to_domain_event(following[0])
    return max(0.0, now - float(event.timestamp.timestamp()))


def _line(name: str, value: float, **labels: str) -> str:
    rendered = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return f"{name}{{{rendered}}} {value}" if rendered else f"{name} {value}"


def prometheus_text(head: int, lags: Iterable[Lag], stats: RunnerStats, rebuilds: Mapping[str, RebuildProgress],
                    subscribers: int) -> str:
    """The metrics in Prometheus' text exposition format (version 0.0.4)."""
    lags = list(lags)
    out: list[str] = []

    def metric(name: str, kind: str, help_text: str, samples: list[str]) -> None:
        out.extend([f"# HELP {name} {help_text}", f"# TYPE {name} {kind}", *samples])

    metric("event_store_position", "gauge", "Last position of the event store's notification log.",
           [_line("event_store_position", head)])
    metric("projection_position", "gauge", "Last store position the view applied.",
           [_line("projection_position", lag.position, view=lag.view) for lag in lags])
    metric("projection_lag_events", "gauge", "Events the view is behind the store.",
           [_line("projection_lag_events", lag.events, view=lag.view) for lag in lags])
    metric("projection_lag_seconds", "gauge", "Age of the oldest event the view has not applied (0 when caught up).",
           [_line("projection_lag_seconds", lag.seconds, view=lag.view) for lag in lags])
    metric("projection_events_applied_total", "counter", "Events applied to the view by this process.",
           [_line("projection_events_applied_total", stats.applied.get(lag.view, 0), view=lag.view) for lag in lags])
    metric("projection_batches_total", "counter", "Batches the runner committed.",
           [_line("projection_batches_total", stats.batches)])
    metric("projection_last_batch_seconds", "gauge", "Time the runner took for its last batch.",
           [_line("projection_last_batch_seconds", round(stats.last_batch_seconds, 6))])
    metric("projection_rebuild_fraction", "gauge", "Progress of the view's last rebuild (1 when done).",
           [_line("projection_rebuild_fraction", p.as_dict()["fraction"], view=v, state=p.state)
            for v, p in rebuilds.items()])
    metric("view_stream_subscribers", "gauge", "Open live-update streams.", [_line("view_stream_subscribers",
                                                                                   subscribers)])
    return "\n".join(out) + "\n"
