"""Check raw Kafka values against the published JSON Schemas (``contracts/schemas/``), for e2e tests.

Usage: ``assert_matches_published_schema(record.value)`` on every message a run produced. Needs the
``jsonschema`` package (format checks included, so a malformed uuid or date-time fails too).
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from contracts.schema_export import PACKAGE_DIR, SCHEMAS


@cache
def _validator(message_type: str, version: int) -> Any:
    import jsonschema  # imported here: only tests that validate need it

    path = PACKAGE_DIR / SCHEMAS / f"{message_type}.v{version}.json"
    if not path.exists():
        raise AssertionError(f"no published schema for {message_type} v{version} ({path.name})")
    schema = json.loads(path.read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def assert_matches_published_schema(raw: bytes | str) -> None:
    """Fail naming every violation when ``raw`` does not match the schema of its own type and version."""
    message = json.loads(raw)
    validator = _validator(str(message.get("type")), int(message.get("schema_version", 1)))
    errors = sorted(validator.iter_errors(message), key=lambda e: list(e.absolute_path))
    if errors:
        details = "; ".join(f"{'.'.join(map(str, e.absolute_path)) or '(message)'}: {e.message}" for e in errors)
        raise AssertionError(f"{message.get('type')} v{message.get('schema_version')} breaks its schema: {details}")
