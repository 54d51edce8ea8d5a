"""The connections domain. Importing it registers every aggregate's stable event names with the library,
so any process that reads the store (relay, projections, audit tools) can decode every stored event."""

from services.connections.domain import command_log, connection, mirror, tenant

__all__ = ["command_log", "connection", "mirror", "tenant"]
