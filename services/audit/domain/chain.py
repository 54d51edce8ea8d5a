"""The integrity chain: a SHA-256 hash chain over every stored record, and its comparison with the store.

Each link is ``sha256(previous link + canonical bytes of the record)``. The canonical bytes hold the record's
position, originator id, version, topic and state, each length-delimited, so no two different records
share bytes and moving a record to another position changes its link. Editing, removing, inserting or
reordering a sealed record therefore breaks the comparison at that record's position.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from services.audit.domain.records import Finding, StoredRecord

GENESIS = bytes(32)  # the "previous link" of the first record


@dataclass(frozen=True, slots=True)
class Link:
    """One sealed record: its position, which record it was, and the chain's hash up to it (hex)."""

    position: int
    originator_id: str
    version: int
    hash: str


def canonical(record: StoredRecord) -> bytes:
    """The record's bytes as sealed: a text header of its identity, then its state bytes as stored."""
    header = (f"{record.position}\n{record.originator_id}\n{record.version}\n{record.topic}\n"
              f"{len(record.state)}\n")
    return header.encode() + record.state


def link(previous: bytes, record: StoredRecord) -> bytes:
    return hashlib.sha256(previous + canonical(record)).digest()


def seal(previous: bytes, records: Iterable[StoredRecord]) -> list[Link]:
    """Links for ``records`` (in position order), continuing the chain whose last hash is ``previous``."""
    links: list[Link] = []
    for record in records:
        previous = link(previous, record)
        links.append(Link(record.position, record.originator_id, record.version, previous.hex()))
    return links


@dataclass
class ChainReport:
    """The outcome of comparing the store with the chain."""

    sealed: int = 0
    unsealed: int = 0
    first_unsealed: int | None = None
    findings: list[Finding] = field(default_factory=list)

    @property
    def first_bad_position(self) -> int | None:
        return min((f.position for f in self.findings if f.position is not None), default=None)


class ChainCheck:
    """Compares records and links arriving in position order (a merge of two sorted streams).

    After a bad record the check goes on from the chain's own hash, so each later record is judged on its
    own and one edit does not condemn everything after it. A record the chain never saw is "not yet sealed"
    when it lies after the chain's head, and an insertion when it lies inside the sealed range.
    """

    def __init__(self, chain_head: int) -> None:
        self.report = ChainReport()
        self._head = chain_head
        self._previous: tuple[bytes, ...] = (GENESIS,)

    def run(self, records: Iterable[StoredRecord], links: Iterable[Link]) -> ChainReport:
        record_iter, link_iter = iter(records), iter(links)
        record, sealed = next(record_iter, None), next(link_iter, None)
        while record is not None or sealed is not None:
            if sealed is None or (record is not None and record.position < sealed.position):
                assert record is not None
                self._unsealed(record)
                record = next(record_iter, None)
            elif record is None or sealed.position < record.position:
                self._removed(sealed)
                sealed = next(link_iter, None)
            else:
                self._compare(record, sealed)
                record, sealed = next(record_iter, None), next(link_iter, None)
        return self.report

    def _unsealed(self, record: StoredRecord) -> None:
        if record.position > self._head:
            self.report.unsealed += 1
            if self.report.first_unsealed is None:
                self.report.first_unsealed = record.position
            return
        self.report.findings.append(Finding(
            "inserted", f"position {record.position}: {_what(record.topic, record.originator_id, record.version)} "
            "is not in the integrity chain (inserted after sealing)",
            record.position, record.originator_id, record.version,
        ))

    def _removed(self, sealed: Link) -> None:
        self.report.sealed += 1
        self.report.findings.append(Finding(
            "removed", f"position {sealed.position}: the sealed record ({sealed.originator_id} "
            f"v{sealed.version}) is missing from the store (removed)",
            sealed.position, sealed.originator_id, sealed.version,
        ))
        self._previous = (bytes.fromhex(sealed.hash),)

    def _compare(self, record: StoredRecord, sealed: Link) -> None:
        self.report.sealed += 1
        expected = bytes.fromhex(sealed.hash)
        recomputed = [link(previous, record) for previous in self._previous]
        if expected in recomputed:
            self._previous = (expected,)
            return
        if (record.originator_id, record.version) != (sealed.originator_id, sealed.version):
            kind, how = "reordered", (f"holds {_what(record.topic, record.originator_id, record.version)} but the "
                                      f"sealed record there was {sealed.originator_id} v{sealed.version} "
                                      "(moved or replaced)")
        else:
            kind, how = "edited", (f"{_what(record.topic, record.originator_id, record.version)} differs from "
                                   "the sealed record (edited)")
        self.report.findings.append(Finding(kind, f"position {record.position}: {how}", record.position,
                                            record.originator_id, record.version))
        # Either the record or its link was altered: the next record may follow either hash.
        self._previous = (expected, recomputed[0])


def _what(topic: str, originator_id: str, version: int) -> str:
    return f"{topic} of {originator_id} v{version}"


def check(records: Iterable[StoredRecord], links: Iterable[Link], chain_head: int) -> ChainReport:
    """Compare the store's records with the chain's links; both in position order."""
    return ChainCheck(chain_head).run(records, links)
