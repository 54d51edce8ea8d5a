"""Adapters of the audit tools: the chain table, key presence, signing, Kafka replays, view rebuilds."""
