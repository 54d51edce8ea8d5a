"""Entrances of the audit tools: the ``connections audit`` command group."""
