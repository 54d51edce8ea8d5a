"""Ports of the driver worker."""

from __future__ import annotations

from typing import Protocol

from contracts.reports import JobReport


class Reporter(Protocol):
    async def report(self, report: JobReport) -> None:
        """Publish one report about the job being run; returns once the broker has it."""
