"""Version contiguity, state differences and history filters, as pure functions."""

from __future__ import annotations

from datetime import UTC, datetime

from services.audit.domain.diffs import diff
from services.audit.domain.history import Filters, type_matches
from services.audit.domain.secrets import MASK, masked, sanitized
from services.audit.domain.versions import VersionCheck


def test_contiguous_versions_are_fine_and_a_gap_names_the_missing_versions() -> None:
    check = VersionCheck()

    seen = [check.see(1, "a", 1), check.see(2, "b", 1), check.see(3, "a", 2), check.see(4, "a", 5)]

    assert seen[:3] == [None, None, None]
    assert seen[3] is not None and seen[3].kind == "version_gap" and "versions 3-4 missing" in seen[3].message


def test_a_version_seen_again_is_out_of_order() -> None:
    check = VersionCheck()
    check.see(1, "a", 1)
    check.see(2, "a", 2)

    found = check.see(3, "a", 2)

    assert found is not None and found.kind == "version_order" and found.position == 3


def test_diff_walks_nested_settings_and_names_added_and_removed_fields() -> None:
    before = {"name": "A", "settings": {"lang": "de", "old": 1}, "version": 3}
    after = {"name": "A", "settings": {"lang": "en", "new": True}, "version": 5}

    changes = [c.as_dict() for c in diff(before, after)]

    assert changes == [
        {"path": "settings.lang", "change": "changed", "before": "de", "after": "en"},
        {"path": "settings.old", "change": "removed", "before": 1, "after": None},
        {"path": "settings.new", "change": "added", "before": None, "after": True},
        {"path": "version", "change": "changed", "before": 3, "after": 5},
    ]


def test_type_filter_accepts_the_short_the_unversioned_and_the_full_name() -> None:
    topic = "Connection.Edited.v1"

    assert all(type_matches(name, topic) for name in ("Edited", "Connection.Edited", topic))
    assert not type_matches("Created", topic)


def test_filters_combine_time_range_type_and_actor() -> None:
    at = datetime(2026, 1, 2, tzinfo=UTC)
    filters = Filters(since=datetime(2026, 1, 1, tzinfo=UTC), until=at, types=("Edited",), actors=("alice",))

    assert filters.admits("Connection.Edited.v1", at, "alice")
    assert not filters.admits("Connection.Edited.v1", at, "bob")
    assert not filters.admits("Connection.Created.v1", at, "alice")
    assert not filters.admits("Connection.Edited.v1", datetime(2026, 1, 3, tzinfo=UTC), "alice")


def test_sanitized_fields_never_carry_sealed_credentials_and_mask_secret_settings() -> None:
    fields = {"credentials": {"v": 1, "ciphertext": "abc"}, "settings": {"token": "x", "lang": "de"}, "name": "A"}

    clean = sanitized(fields, {"token"}, erased=True)

    assert clean == {"credentials": "(erased)", "settings": {"token": MASK, "lang": "de"}, "name": "A"}
    assert masked({"a": {"b": 1}}, None) == {"a": {"b": MASK}}
