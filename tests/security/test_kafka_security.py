"""Kafka security settings: every broker the processes build logs in and verifies TLS as the settings say,
and the SASL password never shows in the settings' repr, a log line or a settings error."""

from __future__ import annotations

import datetime
import io
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512
from pydantic import ValidationError

from shared.bus import kafka_client_options, kafka_security, make_broker
from shared.logging import get_logger
from shared.settings import Settings
from shared.settings_check import explain

PASSWORD = "kafka-pw-4f1b9c"  # noqa: S105 - a test value


def _settings(**values: object) -> Settings:
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def cafile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A self-signed CA certificate, as an operator's Kafka CA file."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test kafka CA")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(key, hashes.SHA256()))
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def test_plaintext_is_the_local_default() -> None:
    settings = _settings()
    assert kafka_security(settings) is None
    params = make_broker("127.0.0.1:9092", "t")._connection_kwargs  # noqa: SLF001
    assert params.get("security_protocol", "PLAINTEXT") == "PLAINTEXT" and "sasl_mechanism" not in params


@pytest.mark.parametrize(("mechanism", "kind"), [("PLAIN", SASLPlaintext), ("SCRAM-SHA-256", SASLScram256),
                                                 ("SCRAM-SHA-512", SASLScram512)])
def test_sasl_ssl_builds_the_login_and_tls_the_settings_describe(mechanism: str, kind: type, cafile: Path) -> None:
    settings = _settings(kafka_security_protocol="SASL_SSL", kafka_sasl_mechanism=mechanism,
                         kafka_sasl_username="svc-connections", kafka_sasl_password=PASSWORD, kafka_ssl_cafile=cafile)
    security = kafka_security(settings)
    assert type(security) is kind
    assert security.username == "svc-connections"
    assert security.password == PASSWORD
    assert security.use_ssl
    assert security.ssl_context.verify_mode is ssl.CERT_REQUIRED and security.ssl_context.check_hostname
    assert len(security.ssl_context.get_ca_certs()) == 1  # the configured CA only, not the system's

    params = make_broker("kafka-1:9093", "connections-service", security)._connection_kwargs  # noqa: SLF001
    assert params["security_protocol"] == "SASL_SSL"
    assert params["sasl_mechanism"] == mechanism
    assert params["sasl_plain_username"] == "svc-connections"
    assert params["sasl_plain_password"] == PASSWORD
    assert params["ssl_context"] is security.ssl_context
    # bare aiokafka clients (consumer lag sampling) get the same login
    assert kafka_client_options(security)["sasl_mechanism"] == mechanism


def test_sasl_plaintext_and_ssl_only() -> None:
    sasl = kafka_security(_settings(kafka_security_protocol="SASL_PLAINTEXT", kafka_sasl_username="u",
                                    kafka_sasl_password=PASSWORD))
    assert isinstance(sasl, SASLScram512) and not sasl.use_ssl and sasl.ssl_context is None
    tls = kafka_security(_settings(kafka_security_protocol="SSL"))
    assert type(tls) is BaseSecurity and tls.use_ssl and tls.ssl_context.verify_mode is ssl.CERT_REQUIRED
    assert make_broker("k:9093", "t", tls)._connection_kwargs["security_protocol"] == "SSL"  # noqa: SLF001


@pytest.mark.parametrize("values", [
    {"kafka_security_protocol": "SASL_SSL"},
    {"kafka_security_protocol": "SASL_SSL", "kafka_sasl_username": "u"},
    {"kafka_security_protocol": "SASL_SSL", "kafka_sasl_username": "u", "kafka_sasl_password": ""},
    {"kafka_sasl_username": "u", "kafka_sasl_password": PASSWORD},  # a login that would silently not be used
    {"kafka_ssl_cafile": "/etc/ca.pem"},
])
def test_incomplete_security_settings_stop_the_process_without_showing_the_password(values: dict) -> None:
    with pytest.raises(ValidationError) as raised:
        _settings(**values)
    assert PASSWORD not in "\n".join(explain(raised.value))


def test_the_password_is_never_shown(captured: io.StringIO) -> None:
    settings = _settings(kafka_security_protocol="SASL_SSL", kafka_sasl_username="u", kafka_sasl_password=PASSWORD)
    assert PASSWORD not in repr(settings)
    assert PASSWORD not in str(settings)
    assert PASSWORD not in settings.model_dump_json()
    get_logger("test").info("settings_loaded", settings=settings, dumped=settings.model_dump())
    get_logger("test").info("kafka_login", sasl_plain_password=PASSWORD, security=repr(kafka_security(settings)))
    text = captured.getvalue()
    assert "settings_loaded" in text and "kafka_login" in text
    assert PASSWORD not in text


def test_the_settings_are_documented() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text()
    for variable in ("OMNI_KAFKA_SECURITY_PROTOCOL", "OMNI_KAFKA_SASL_MECHANISM", "OMNI_KAFKA_SASL_USERNAME",
                     "OMNI_KAFKA_SASL_PASSWORD", "OMNI_KAFKA_SSL_CAFILE"):
        assert variable in doc


def test_every_process_builds_its_broker_with_the_security_settings() -> None:
    """Each ``make_broker`` call of a process passes the security built from its settings."""
    import ast

    root = Path(__file__).resolve().parents[2]
    calls = []
    for path in (root / "services").rglob("*.py"):
        tree = ast.parse(path.read_text())
        calls += [(path.relative_to(root), node) for node in ast.walk(tree) if isinstance(node, ast.Call)
                  and isinstance(node.func, ast.Name) and node.func.id == "make_broker"]
    assert len(calls) >= 4
    for path, call in calls:
        assert len(call.args) == 3 or any(k.arg == "security" for k in call.keywords), f"{path}:{call.lineno}"
