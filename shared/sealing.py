"""Authenticated encryption of small JSON documents (credentials) with AES-256-GCM.

Used twice: the connections service seals credentials at rest with per-connection data keys, and seals them
again for the driver workers with the worker key, bound to one job id, so Kafka never carries plaintext.
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


class SealError(ValueError):
    """A sealed document could not be opened: wrong key, wrong binding or tampered bytes."""


def seal(key: bytes, document: dict[str, Any], bound_to: str) -> str:
    """Encrypt ``document``; ``bound_to`` (e.g. a connection or job id) must be given again to open it."""
    nonce = os.urandom(12)
    plaintext = json.dumps(document, separators=(",", ":"), sort_keys=True).encode()
    return base64.b64encode(nonce + AESGCM(key).encrypt(nonce, plaintext, bound_to.encode())).decode()


def open_sealed(key: bytes, sealed: str, bound_to: str) -> dict[str, Any]:
    try:
        raw = base64.b64decode(sealed)
        plaintext = AESGCM(key).decrypt(raw[:12], raw[12:], bound_to.encode())
    except (InvalidTag, ValueError):
        raise SealError("sealed credentials could not be opened (wrong key, binding or tampered)") from None
    document: dict[str, Any] = json.loads(plaintext)
    return document


def wrap_key(master: bytes, data_key: bytes, bound_to: str) -> bytes:
    nonce = os.urandom(12)
    return nonce + AESGCM(master).encrypt(nonce, data_key, bound_to.encode())


def unwrap_key(master: bytes, wrapped: bytes, bound_to: str) -> bytes:
    try:
        return AESGCM(master).decrypt(wrapped[:12], wrapped[12:], bound_to.encode())
    except InvalidTag:
        raise SealError("data key could not be unwrapped") from None
