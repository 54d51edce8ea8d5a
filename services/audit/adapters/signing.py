"""Signing audit exports: HMAC-SHA256 with a shared secret, or Ed25519 with a key pair (``cryptography``).

HMAC suits an export checked by the same organisation that made it; Ed25519 lets an outside auditor check it
with the public key alone. Key files:

- HMAC: any file of at least 32 bytes (its bytes are the key), e.g. ``head -c 32 /dev/urandom > audit.key``;
- Ed25519: a PKCS#8 PEM private key to sign and its PEM public key to check, e.g. from
  ``connections audit keygen --out audit`` or ``openssl genpkey -algorithm ed25519``.

A key id (16 hex digits) names the key in the export without revealing it: an HMAC of a fixed label for
HMAC keys, a SHA-256 of the raw public key for Ed25519.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

HMAC_SHA256 = "hmac-sha256"
ED25519 = "ed25519"
ALGORITHMS = (HMAC_SHA256, ED25519)
_MIN_HMAC_KEY = 32


class KeyFileError(ValueError):
    """A key file that cannot serve: missing, too short, or not the kind of key the algorithm needs."""


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise KeyFileError(f"cannot read key file {path}: {exc.strerror}") from None


def _hmac_key_id(key: bytes) -> str:
    return hmac.new(key, b"omni-audit-export key id", hashlib.sha256).hexdigest()[:16]


def _public_key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


class HmacKey:
    """Signs and checks with one shared secret."""

    algorithm = HMAC_SHA256

    def __init__(self, key: bytes) -> None:
        if len(key) < _MIN_HMAC_KEY:
            raise KeyFileError(f"an HMAC key needs at least {_MIN_HMAC_KEY} bytes, this one has {len(key)}")
        self._key = key
        self.key_id = _hmac_key_id(key)

    def sign(self, message: bytes) -> bytes:
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def verify(self, algorithm: str, message: bytes, signature: bytes) -> bool:
        return algorithm == HMAC_SHA256 and hmac.compare_digest(self.sign(message), signature)


class Ed25519Signer:
    algorithm = ED25519

    def __init__(self, private: Ed25519PrivateKey) -> None:
        self._private = private
        self.key_id = _public_key_id(private.public_key())

    def sign(self, message: bytes) -> bytes:
        return self._private.sign(message)


class Ed25519Checker:
    def __init__(self, public: Ed25519PublicKey) -> None:
        self._public = public
        self.key_id = _public_key_id(public)

    def verify(self, algorithm: str, message: bytes, signature: bytes) -> bool:
        if algorithm != ED25519:
            return False
        try:
            self._public.verify(signature, message)
        except InvalidSignature:
            return False
        return True


def load_signer(algorithm: str, path: Path) -> HmacKey | Ed25519Signer:
    """The signer for ``algorithm`` from a key file (an HMAC secret, or an Ed25519 private key PEM)."""
    data = _read(path)
    if algorithm == HMAC_SHA256:
        return HmacKey(data)
    private = _load_pem(path, data, private=True)
    if not isinstance(private, Ed25519PrivateKey):
        raise KeyFileError(f"{path} is not an Ed25519 private key")
    return Ed25519Signer(private)


def load_checker(algorithm: str, path: Path) -> HmacKey | Ed25519Checker:
    """The checker for an export signed with ``algorithm``: the HMAC secret, or the Ed25519 public key
    (a private key file works too: its public half is used)."""
    data = _read(path)
    if algorithm == HMAC_SHA256:
        return HmacKey(data)
    if algorithm != ED25519:
        raise KeyFileError(f"unknown signature algorithm {algorithm!r}; known: {', '.join(ALGORITHMS)}")
    key = _load_pem(path, data, private=b"PRIVATE KEY" in data)
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    if not isinstance(public, Ed25519PublicKey):
        raise KeyFileError(f"{path} is not an Ed25519 key")
    return Ed25519Checker(public)


def _load_pem(path: Path, data: bytes, *, private: bool) -> object:
    try:
        if private:
            return serialization.load_pem_private_key(data, password=None)
        return serialization.load_pem_public_key(data)
    except (ValueError, TypeError):
        kind = "private" if private else "public"
        raise KeyFileError(f"{path} is not a PEM {kind} key without a password") from None


def generate_ed25519(prefix: Path) -> tuple[Path, Path]:
    """Write a new key pair: ``<prefix>.pem`` (private, mode 0600) and ``<prefix>.pub.pem``."""
    private = Ed25519PrivateKey.generate()
    private_path, public_path = prefix.with_name(prefix.name + ".pem"), prefix.with_name(prefix.name + ".pub.pem")
    private_path.touch(mode=0o600, exist_ok=False)
    private_path.write_bytes(private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                   serialization.NoEncryption()))
    public_path.write_bytes(private.public_key().public_bytes(serialization.Encoding.PEM,
                                                              serialization.PublicFormat.SubjectPublicKeyInfo))
    return private_path, public_path
