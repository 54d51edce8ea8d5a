"""No secret reaches a log line: secret field names and known token shapes are redacted in every string,
in structlog events and in the standard library's records (uvicorn, aiokafka) alike."""

from __future__ import annotations

import io
import json
import logging
import sys

import pytest

from shared.logging import configure_logging, get_logger, redact_text

JWT = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJhbGljZSIsInRlbmFudF9pZCI6ImFjbWUifQ.c2lnbmF0dXJlLWJ5dGVz"
SHAPES = {
    "jwt": f"token {JWT} expired",
    "shopify": "called with shpat_0123456789abcdef0123456789abcdef",
    "lwa refresh token": "refresh Atzr|IwEBIJ-abc_DEF+ghi/jkl=mno",
    "lwa access token": "access Atza|IwEBIK-abcdefghijkl",
    "bearer": "Authorization: Bearer 3f1c2a9e8d4b4f6a9c1e2b7d",
    "basic": "Authorization: Basic YWxpY2U6aHVudGVyMg==",
    "url user info": "GET https://alice:hunter2@shop.example.com/api",
    "query secret": "POST /oauth?client_id=abc&client_secret=s3cr3t-value&x=1",
    "json secret": '{"client_secret": "s3cr3t-value", "client_id": "abc"}',
    "repr secret": "Credentials(password='s3cr3t-value', user='bob')",
    "pem": "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----",
}
LEAKS = [JWT, "0123456789abcdef0123456789abcdef", "IwEBIJ-abc", "IwEBIK-abc", "3f1c2a9e8d4b4f6a9c1e2b7d",
         "YWxpY2U6aHVudGVyMg", "hunter2", "s3cr3t-value", "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC"]


@pytest.mark.parametrize("text", SHAPES.values(), ids=SHAPES.keys())
def test_known_token_shapes_are_redacted_in_any_string(text: str) -> None:
    redacted = redact_text(text)
    assert "[redacted]" in redacted
    assert not any(leak in redacted for leak in LEAKS), redacted


def test_ordinary_text_and_sealed_blobs_stay_readable() -> None:
    for text in ("token expired", "unknown token", "credential_state=verified", "key_id=k2",
                 "sealed gAAAAABlZ3Jm8xv9Q2w1X0==", "connection 3f1c2a9e-8d4b-4f6a-9c1e-2b7d5e8a0f11 deleted"):
        assert redact_text(text) == text


def test_structlog_events_redact_secret_fields_nested_values_and_exceptions(captured: io.StringIO) -> None:
    log = get_logger("test")
    log.info("connecting", secret_access_key="s3cr3t-value", client_password="hunter2",
             credentials={"password": "hunter2"}, request={"headers": {"Authorization": f"Bearer {JWT}"}},
             detail="POST /oauth?client_secret=s3cr3t-value", key_id="k2")
    try:
        raise ValueError(f"vendor said: invalid refresh token Atzr|IwEBIJ-abc_DEF+ghi for {JWT}")
    except ValueError:
        log.exception("failed")

    lines = [json.loads(line) for line in captured.getvalue().splitlines() if line.startswith("{")]
    text = captured.getvalue()
    assert not any(leak in text for leak in LEAKS), text
    assert lines[0]["secret_access_key"] == "[redacted]" and lines[0]["key_id"] == "k2"
    assert "ValueError" in lines[1]["exception"]


def test_standard_library_records_are_redacted_too(captured: io.StringIO) -> None:
    logging.getLogger("uvicorn.error").warning("request failed: Authorization: Bearer %s from %s", JWT,
                                               "https://alice:hunter2@host/")
    try:
        raise RuntimeError("password=hunter2")
    except RuntimeError:
        logging.getLogger("aiokafka").exception("crash")

    text = captured.getvalue()
    assert "request failed" in text and "RuntimeError" in text
    assert not any(leak in text for leak in LEAKS), text


def test_uvicorns_own_logging_config_cannot_route_records_around_redaction(monkeypatch: pytest.MonkeyPatch) -> None:
    import logging.config

    from uvicorn.config import LOGGING_CONFIG

    logging.config.dictConfig(LOGGING_CONFIG)  # what uvicorn does when a server starts with its defaults
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    configure_logging(json=True)
    logging.getLogger("uvicorn.error").warning("login with password=hunter2 failed")

    assert "login with password=[redacted] failed" in stream.getvalue()
    assert "hunter2" not in stream.getvalue()
