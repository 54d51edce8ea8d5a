"""The export format: a trailer sealing every line before it, and what a changed line does to it."""

from __future__ import annotations

import pytest

from services.audit.domain import exports


def _export(events: list[dict[str, object]]) -> bytes:
    digest = exports.ExportDigest()
    out = digest.add(exports.line({"record": "header", "format": exports.FORMAT, "tenant_id": "acme"}), is_event=False)
    for event in events:
        out += digest.add(exports.line({"record": "event", **event}), is_event=True)
    return out + exports.line({"record": "trailer", "events": digest.events, "sha256": digest.hexdigest(),
                               "signature": None})


def test_an_untouched_export_parses_without_problems() -> None:
    parsed, problems = exports.parse(_export([{"position": 1}, {"position": 2}]))

    assert problems == [] and parsed.events == 2 and parsed.header["tenant_id"] == "acme"


def test_an_edited_line_breaks_the_digest() -> None:
    content = _export([{"position": 1, "summary": "created"}]).replace(b"created", b"deleted")

    _, problems = exports.parse(content)

    assert any("altered" in p for p in problems)


def test_a_removed_line_breaks_the_digest_and_the_count() -> None:
    lines = _export([{"position": 1}, {"position": 2}]).splitlines(keepends=True)

    _, problems = exports.parse(b"".join([lines[0], lines[2], lines[3]]))

    assert len(problems) == 2


def test_a_cut_export_has_no_trailer() -> None:
    lines = _export([{"position": 1}, {"position": 2}]).splitlines(keepends=True)

    with pytest.raises(exports.ExportInvalid, match="cut short"):
        exports.parse(b"".join(lines[:3]))
