"""Audit and replay tools over the connections event store: history, time travel, rebuild, verify, export,
republish, and the integrity chain that makes the history tamper-evident."""
