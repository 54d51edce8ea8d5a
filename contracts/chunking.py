"""Large data models over Kafka: split into ``ModelChunk`` reports, reassembled and checked by hash.

Kafka's default message limit is 1 MB; a marketplace with 10,000 attributes easily needs more. The producer
cuts the model into chunks well under the limit; the consumer puts them back together and compares the
SHA-256 of the whole model with the one the final report names.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from contracts.datamodel import Attribute, AttributeSet, DataModel

CHUNK_BYTES = 256 * 1024
"""Target size of one chunk's JSON, far below 1 MB so envelopes and headers always fit."""


def model_digest(model: DataModel) -> str:
    """SHA-256 of the model's canonical JSON (pydantic's field order; no whitespace)."""
    return hashlib.sha256(model.model_dump_json().encode()).hexdigest()


def split_model(model: DataModel, chunk_bytes: int = CHUNK_BYTES) -> list[DataModel]:
    """The model in parts of at most about ``chunk_bytes`` of JSON each (one item may exceed it alone)."""
    parts: list[DataModel] = []
    attributes: list[Attribute] = []
    sets: list[AttributeSet] = []
    size = 0
    for item in (*model.attributes, *model.attribute_sets):
        item_size = len(item.model_dump_json())
        if size + item_size > chunk_bytes and (attributes or sets):
            parts.append(DataModel(attributes=tuple(attributes), attribute_sets=tuple(sets)))
            attributes, sets, size = [], [], 0
        (attributes if isinstance(item, Attribute) else sets).append(item)  # type: ignore[arg-type]
        size += item_size
    parts.append(DataModel(attributes=tuple(attributes), attribute_sets=tuple(sets)))
    return parts


def join_model(parts: Sequence[DataModel]) -> DataModel:
    return DataModel(
        attributes=tuple(a for p in parts for a in p.attributes),
        attribute_sets=tuple(s for p in parts for s in p.attribute_sets),
    )


def needs_chunks(model: DataModel, chunk_bytes: int = CHUNK_BYTES) -> bool:
    return len(model.model_dump_json()) > chunk_bytes
