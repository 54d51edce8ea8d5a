"""The canary's scanner finds a marker in every form it could be written in."""

from __future__ import annotations

import base64
import gzip

from tests.security.scanning import find

MARKER = "cnrytest0123456789abcdef0123456789ab"


def test_the_scanner_finds_plaintext_hex_and_base64_at_any_alignment() -> None:
    for prefix in (b"", b"x", b"xy", b"xyz"):
        blob = prefix + MARKER.encode() + b"tail"
        for encoded in (blob, base64.b64encode(blob), base64.urlsafe_b64encode(blob), blob.hex().encode(),
                        b"\\\\x" + blob.hex().encode()):
            assert find(b"noise " + encoded + b" noise", [MARKER], "blob"), encoded


def test_the_scanner_does_not_see_through_encryption_or_compression() -> None:
    assert find(gzip.compress(MARKER.encode() * 3), [MARKER], "gzip") == []
