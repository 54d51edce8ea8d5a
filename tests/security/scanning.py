"""Finding secrets anywhere the system wrote: every form a marker string could take, and readers for every
place (files, PostgreSQL tables, Kafka topics of a namespace)."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterable
from pathlib import Path

import psycopg
from aiokafka import AIOKafkaConsumer


def marker_forms(marker: str) -> dict[str, bytes]:
    """The marker as plaintext, hex, and base64 (standard and URL-safe) at each of the three byte alignments."""
    raw = marker.encode()
    forms = {"plaintext": raw, "hex": raw.hex().encode(), "HEX": raw.hex().upper().encode()}
    for offset in range(3):
        for name, encode in (("base64", base64.b64encode), ("base64url", base64.urlsafe_b64encode)):
            encoded = encode(b"\x00" * offset + raw).rstrip(b"=")
            # Drop the characters that also depend on the bytes around the marker.
            forms[f"{name}@{offset}"] = encoded[4 if offset else 0:-4]
    return forms


def find(blob: bytes, markers: Iterable[str], where: str) -> list[str]:
    """Where and how each marker appears in ``blob`` (empty: nowhere)."""
    found = []
    for marker in markers:
        for form, needle in marker_forms(marker).items():
            if needle in blob:
                found.append(f"{marker} as {form} in {where}")
    return found


def scan_files(root: Path, markers: Iterable[str]) -> tuple[list[str], int]:
    """Every file under ``root``, byte for byte (SQLite databases with their WAL, logs, ...)."""
    found: list[str] = []
    count = 0
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        count += 1
        found += find(path.read_bytes(), markers, str(path.relative_to(root)))
    return found, count


def scan_postgres(dsn: str, markers: Iterable[str]) -> tuple[list[str], int]:
    """Every row of every table of the database, as PostgreSQL's text form (bytea as hex)."""
    found: list[str] = []
    with psycopg.connect(dsn) as conn:
        tables = conn.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND table_type = 'BASE TABLE'"
        ).fetchall()
        for schema, table in tables:
            rows = conn.execute(f'SELECT t::text FROM "{schema}"."{table}" t').fetchall()  # noqa: S608 - catalog names
            found += find("\n".join(r[0] for r in rows).encode(), markers, f"table {schema}.{table}")
    return found, len(tables)


async def _read_topics(bootstrap: str, prefix: str) -> dict[str, list[bytes]]:
    lister = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    await lister.start()
    try:
        topics = sorted(t for t in await lister.topics() if t.startswith(prefix))
    finally:
        await lister.stop()
    consumer = AIOKafkaConsumer(*topics, bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None,
                                auto_offset_reset="earliest")
    await consumer.start()
    try:
        while not consumer.assignment():
            await asyncio.sleep(0.1)
        partitions = list(consumer.assignment())
        ends = await consumer.end_offsets(partitions)
        dumped: dict[str, list[bytes]] = {t: [] for t in topics}
        remaining = {tp for tp, end in ends.items() if end > 0}
        idle = 0
        while remaining and idle < 20:
            batch = await consumer.getmany(timeout_ms=500)
            idle = 0 if batch else idle + 1
            for tp, records in batch.items():
                for record in records:
                    headers = b"".join(k.encode() + b"=" + (v or b"") for k, v in record.headers or ())
                    dumped[tp.topic].append((record.key or b"") + b"\n" + (record.value or b"") + b"\n" + headers)
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
        assert not remaining, f"could not read to the end of {sorted(str(tp) for tp in remaining)}"
        return dumped
    finally:
        await consumer.stop()


def scan_kafka(bootstrap: str, prefix: str, markers: Iterable[str]) -> tuple[list[str], dict[str, int]]:
    """Every record (key, value, headers) of every topic whose name starts with ``prefix``, from the start."""
    dumped = asyncio.run(_read_topics(bootstrap, prefix))
    found: list[str] = []
    for topic, records in dumped.items():
        found += find(b"\n".join(records), markers, f"topic {topic}")
    return found, {topic: len(records) for topic, records in dumped.items()}
