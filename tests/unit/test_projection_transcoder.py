"""The read side's faster transcoder decodes every stored state to what the library's transcoder gives."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from eventsourcing.persistence import DatetimeAsISO, DecimalAsStr, JSONTranscoder, UUIDAsHex

from services.projections.adapters.transcoder import ReadingJSONTranscoder
from services.projections.application import EventStoreReader

NOW = datetime(2026, 11, 27, 13, 9, 33, 248139, tzinfo=UTC)


def _registered(transcoder: JSONTranscoder) -> JSONTranscoder:
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
        transcoder.register(transcoding)
    return transcoder


LIBRARY = _registered(JSONTranscoder())
FAST = _registered(ReadingJSONTranscoder())

STATES: list[dict[str, Any]] = [
    {},
    {"timestamp": NOW, "name": "Shop", "done": 100, "total": None},
    {"timestamp": NOW, "at": NOW, "id": uuid.uuid4(), "amount": Decimal("1.50")},
    {"timestamp": NOW, "meta": {"tenant_id": "acme", "actor": "bob", "correlation_id": "c"}},
    # transcoded values below the top level: only the library's hook path finds them
    {"timestamp": NOW, "meta": {"at": NOW}},
    {"timestamp": NOW, "attributes": [{"code": "a", "seen": NOW}, {"code": "b"}]},
    {"ids": [uuid.uuid4(), uuid.uuid4()]},
    # the marker's text inside values, and escapes that could spell a key
    {"timestamp": NOW, "name": 'ends with "_type_'},
    {"timestamp": NOW, "name": '{"_type_": "datetime_iso", "_data_": "x"}'},
    {"timestamp": NOW, "name": "caf\u00e9 \u2028 \\u005f \"quoted\" \\"},
    {"_type_": "plain key", "timestamp": NOW},
    {"timestamp": NOW, "thing": {"_type_": "only the type"}},
    {"timestamp": NOW, "thing": {"_type_": "x", "_data_": "y", "extra": 1}},
]


@pytest.mark.parametrize("state", STATES, ids=range(len(STATES)))
def test_decodes_what_the_library_decodes(state: dict[str, Any]) -> None:
    data = LIBRARY.encode(state)
    decoded = FAST.decode(data)
    assert decoded == LIBRARY.decode(data) == state
    assert [type(v) for v in decoded.values()] == [type(v) for v in state.values()]


def test_an_escaped_marker_key_is_still_revived() -> None:
    data = b'{"timestamp":{"\\u005ftype_":"datetime_iso","_data_":"2026-11-27T13:09:33.248139+00:00"}}'
    assert FAST.decode(data) == LIBRARY.decode(data) == {"timestamp": NOW}


@pytest.mark.parametrize("data", [b'{"a": 1} trailing', b"[1, 2]", b"not json", b'{"t":{"_type_":"nope","_data_":1}}'])
def test_anything_unusual_gets_the_library_answer(data: bytes) -> None:
    try:
        expected: Any = LIBRARY.decode(data)
    except Exception as exc:  # noqa: BLE001 - the same failure is the expectation
        with pytest.raises(type(exc)):
            FAST.decode(data)
        return
    assert FAST.decode(data) == expected


def test_the_store_reader_decodes_with_it(tmp_path: Any) -> None:
    reader = EventStoreReader(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    try:
        assert isinstance(reader.mapper.transcoder, ReadingJSONTranscoder)
    finally:
        reader.close()
