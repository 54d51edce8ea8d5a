"""Credentials sealed by a platform service for the connections service, so the bus never carries them plain.

A sender seals the credentials JSON object to the service's public command key (``GET
/v1/contracts/command-key``) and puts the result in ``sealed_credentials`` of ``CreateConnection`` or
``EditConnection``. Recipe (``docs/contracts.md`` repeats it for other languages):

1. a fresh X25519 key pair per message (ephemeral); ``shared = X25519(ephemeral_private, service_public)``;
2. ``key = HKDF-SHA256(ikm=shared, salt=ephemeral_public || service_public, info=INFO, length=32)``;
3. ``ciphertext = AES-256-GCM(key, nonce=12 random bytes, plaintext=UTF-8 JSON object, aad=INFO || 0x00 ||
   tenant_id)``, the 16-byte tag appended (as every GCM library does);
4. ``sealed_credentials = base64(0x01 || ephemeral_public (32) || nonce (12) || ciphertext)``, standard
   alphabet with padding.

The tenant id is bound in: a sealed document only opens for the tenant of the envelope it travels in.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

VERSION = 1
INFO = b"omni-connections sealed-credentials v1"
ALGORITHM = "X25519-HKDF-SHA256-A256GCM"
MAX_SEALED_LENGTH = 64 * 1024


class SealedCredentialsError(ValueError):
    """Sealed credentials that cannot be opened: malformed, another key, another tenant or tampered."""


def _raw(public_key: X25519PublicKey) -> bytes:
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _key(shared: bytes, ephemeral: bytes, recipient: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=ephemeral + recipient, info=INFO).derive(shared)


def _aad(tenant_id: str) -> bytes:
    return INFO + b"\x00" + tenant_id.encode()


def key_id(public_key: bytes) -> str:
    """A short, stable name of a public key: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(public_key).hexdigest()[:16]


def seal_credentials(public_key_b64: str, credentials: dict[str, Any], tenant_id: str) -> str:
    """What a sender puts in ``sealed_credentials``: ``credentials`` sealed to the service for ``tenant_id``."""
    recipient = base64.b64decode(public_key_b64)
    ephemeral = X25519PrivateKey.generate()
    ephemeral_public = _raw(ephemeral.public_key())
    key = _key(ephemeral.exchange(X25519PublicKey.from_public_bytes(recipient)), ephemeral_public, recipient)
    nonce = os.urandom(12)
    plaintext = json.dumps(credentials, separators=(",", ":")).encode()
    ciphertext = AESGCM(key).encrypt(nonce, plaintext, _aad(tenant_id))
    return base64.b64encode(bytes([VERSION]) + ephemeral_public + nonce + ciphertext).decode()


class CommandKeys:
    """The service's command keys: the current one (published) and retired ones (still opened)."""

    def __init__(self, current_b64: str, previous_b64: list[str] | None = None) -> None:
        self._keys = [X25519PrivateKey.from_private_bytes(base64.b64decode(k))
                      for k in [current_b64, *(previous_b64 or [])]]

    @property
    def public_key(self) -> bytes:
        return _raw(self._keys[0].public_key())

    def describe(self) -> dict[str, str]:
        """The public half, as ``GET /v1/contracts/command-key`` serves it."""
        return {
            "algorithm": ALGORITHM,
            "key_id": key_id(self.public_key),
            "public_key": base64.b64encode(self.public_key).decode(),
            "format": "base64(0x01 || ephemeral X25519 public key (32) || nonce (12) || AES-256-GCM ciphertext+tag)",
            "hkdf": "SHA-256, salt = ephemeral public || service public, info = " + INFO.decode(),
            "aad": INFO.decode() + " || 0x00 || tenant_id",
        }

    def open(self, sealed: str, tenant_id: str) -> dict[str, Any]:
        """The credentials object; :class:`SealedCredentialsError` (never the input) when it cannot be opened."""
        if len(sealed) > MAX_SEALED_LENGTH:
            raise SealedCredentialsError("sealed_credentials is too long")
        try:
            raw = base64.b64decode(sealed, validate=True)
        except ValueError:
            raise SealedCredentialsError("sealed_credentials is not base64") from None
        if len(raw) < 1 + 32 + 12 + 16 or raw[0] != VERSION:
            raise SealedCredentialsError(f"sealed_credentials is not a version {VERSION} sealed document")
        ephemeral, nonce, ciphertext = raw[1:33], raw[33:45], raw[45:]
        for private in self._keys:
            try:
                peer = X25519PublicKey.from_public_bytes(ephemeral)
                key = _key(private.exchange(peer), ephemeral, _raw(private.public_key()))
                plaintext = AESGCM(key).decrypt(nonce, ciphertext, _aad(tenant_id))
            except (InvalidTag, ValueError):
                continue
            try:
                document = json.loads(plaintext)
            except ValueError:
                raise SealedCredentialsError("sealed_credentials does not hold JSON") from None
            if not isinstance(document, dict):
                raise SealedCredentialsError("sealed_credentials must hold a JSON object")
            return document
        raise SealedCredentialsError(
            "sealed_credentials could not be opened: sealed to another key, for another tenant, or tampered"
        )
