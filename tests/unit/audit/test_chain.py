"""The integrity chain: sealing is deterministic, and each kind of tampering is named at its position."""

from __future__ import annotations

import dataclasses

from services.audit.domain import chain
from services.audit.domain.records import StoredRecord


def _records(count: int, start: int = 1) -> list[StoredRecord]:
    return [StoredRecord(p, f"agg-{p % 3}", p // 3 + 1, "Connection.Edited.v1", f'{{"n":{p}}}'.encode())
            for p in range(start, start + count)]


def test_an_untouched_store_matches_its_chain() -> None:
    records = _records(10)
    links = chain.seal(chain.GENESIS, records)

    report = chain.check(records, links, chain_head=10)

    assert (report.findings, report.sealed, report.unsealed) == ([], 10, 0)


def test_sealing_in_batches_gives_the_same_chain_as_sealing_at_once() -> None:
    records = _records(10)
    first = chain.seal(chain.GENESIS, records[:4])
    rest = chain.seal(bytes.fromhex(first[-1].hash), records[4:])

    assert first + rest == chain.seal(chain.GENESIS, records)


def test_an_edited_record_is_named_and_the_records_after_it_stay_good() -> None:
    records = _records(10)
    links = chain.seal(chain.GENESIS, records)
    records[4] = dataclasses.replace(records[4], state=b'{"n":"forged"}')

    report = chain.check(records, links, chain_head=10)

    assert [(f.kind, f.position) for f in report.findings] == [("edited", 5)]
    assert report.first_bad_position == 5


def test_a_removed_record_is_named_as_a_gap() -> None:
    records = _records(10)
    links = chain.seal(chain.GENESIS, records)

    report = chain.check(records[:6] + records[7:], links, chain_head=10)

    assert [(f.kind, f.position) for f in report.findings] == [("removed", 7)]


def test_two_records_swapped_are_named_as_reordered() -> None:
    records = _records(10)
    links = chain.seal(chain.GENESIS, records)
    third, fourth = records[2], records[3]
    records[2] = dataclasses.replace(fourth, position=3)
    records[3] = dataclasses.replace(third, position=4)

    report = chain.check(records, links, chain_head=10)

    assert [(f.kind, f.position) for f in report.findings] == [("reordered", 3), ("reordered", 4)]


def test_records_after_the_head_are_not_yet_sealed_but_one_inside_the_range_is_an_insertion() -> None:
    records = _records(12)
    links = chain.seal(chain.GENESIS, records[:5] + records[6:10])  # position 6 came into the store later

    report = chain.check(records, links, chain_head=10)

    assert [(f.kind, f.position) for f in report.findings] == [("inserted", 6)]
    assert (report.unsealed, report.first_unsealed) == (2, 11)


def test_a_rewritten_link_is_found_at_its_position_only() -> None:
    records = _records(6)
    links = chain.seal(chain.GENESIS, records)
    links[2] = dataclasses.replace(links[2], hash="00" * 32)

    report = chain.check(records, links, chain_head=6)

    assert [(f.kind, f.position) for f in report.findings] == [("edited", 3)]
