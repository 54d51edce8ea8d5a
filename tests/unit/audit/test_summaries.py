"""Summaries tell what changed, with a fingerprint instead of any credential and secret settings masked."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any
from uuid import uuid4

from services.audit.domain.history import Timeline


def _event(**fields: Any) -> SimpleNamespace:
    meta = {"tenant_id": "acme", "actor": "bob", "correlation_id": "c-1", "causation_id": None, "reason": None}
    return SimpleNamespace(originator_id=fields.pop("originator_id"), originator_version=fields.pop("version"),
                           timestamp=datetime(2026, 11, 27, tzinfo=UTC), meta=meta, **fields)


def test_a_credentials_change_shows_fingerprints_only_and_settings_changes_show_values() -> None:
    connection = uuid4()
    timeline = Timeline(lambda driver: {"api_secret"})
    sealed = {"v": 1, "ciphertext": "SEALED-BYTES"}
    timeline.entry(1, "Connection.Created.v1", _event(
        originator_id=connection, version=1, tenant_id="acme", name="Main", driver="shopware6", credentials=sealed,
        credentials_fingerprint="aaaaaaaaaaaaaaaa", settings={"lang": "de", "api_secret": "x"}))

    edited = timeline.entry(2, "Connection.Edited.v1", _event(
        originator_id=connection, version=2, name=None, credentials=sealed, credentials_fingerprint="bbbbbbbbbbbbbbbb",
        settings={"lang": "en", "api_secret": "y"}))

    assert edited.summary == ('credentials changed (fingerprint aaaaaaaa… -> bbbbbbbb…); '
                              'settings changed: lang: "de" -> "en"')
    assert "SEALED" not in edited.summary and '"y"' not in edited.summary
    assert (edited.actor, edited.tenant_id, edited.version) == ("bob", "acme", 2)


def test_an_unknown_event_type_still_gets_a_line() -> None:
    entry = Timeline(lambda driver: None).entry(9, "Connection.Archived.v1", _event(originator_id=uuid4(), version=3))

    assert entry.summary == "Connection.Archived recorded"
