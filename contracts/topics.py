"""Kafka topic names: the contract owns them, every producer and consumer imports them from here."""

from __future__ import annotations

COMMANDS = "connections.commands.v1"
COMMAND_RESULTS = "connections.command-results.v1"
EVENTS = "connections.events.v1"
REPORTS = "drivers.reports.v1"


def driver_jobs(driver_id: str) -> str:
    """The job topic of one driver's workers, e.g. ``drivers.shopify.jobs.v1``."""
    return f"drivers.{driver_id}.jobs.v1"


def dead_letters(topic: str) -> str:
    """Where a consumer of ``topic`` parks a message it cannot decode or keeps failing on."""
    return f"{topic}.dlq"
