"""One settings object per process, read from ``OMNI_*`` environment variables and validated at start."""

from __future__ import annotations

import base64
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Development keys: used only when none are configured, and `make up` says so. Never use them in production.
_DEV_MASTER_KEY = base64.b64encode(b"omni-dev-master-key-do-not-use!!").decode()
_DEV_WORKER_KEY = base64.b64encode(b"omni-dev-worker-key-do-not-use!!").decode()
_DEV_COMMAND_KEY = base64.b64encode(b"omni-dev-command-key-dont-use!!!").decode()
_JWT_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA")


class Store(StrEnum):
    SQLITE = "sqlite"
    POSTGRES = "postgres"


class Settings(BaseSettings):
    """Every knob of every process. Environment variable names are ``OMNI_`` + the field name in capitals."""

    model_config = SettingsConfigDict(env_prefix="OMNI_", extra="ignore")

    data_dir: Path = Field(default=Path(".data"), description="SQLite files of the embedded default")
    store: Store = Field(default=Store.SQLITE, description="event store, views, keys: sqlite (embedded) or postgres")
    database_url: str | None = Field(default=None, description="postgresql://user:pw@host:port/db when store=postgres")
    db_pool_size: int = Field(default=10, ge=1, le=200, description="PostgreSQL connections per pool of a process")

    kafka_bootstrap: str = Field(default="127.0.0.1:9092", description="Kafka bootstrap servers, host:port[,host:port]")
    kafka_namespace: str = Field(default="", max_length=100, pattern=r"^[A-Za-z0-9._-]*$",
                                 description="prefix of every topic and consumer group, e.g. 'staging.'")
    kafka_partitions: int = Field(default=3, ge=1, description="partitions of topics the service creates")
    kafka_replication: int = Field(default=1, ge=1, description="replication factor of topics the service creates")
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT", description="how every process talks to Kafka: PLAINTEXT (local only), SSL, "
                                         "SASL_PLAINTEXT or SASL_SSL (TLS plus a SASL login)")
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        default="SCRAM-SHA-512", description="SASL login mechanism when the protocol is SASL_*")
    kafka_sasl_username: str | None = Field(default=None, max_length=500,
                                            description="SASL user name (required with SASL_*)")
    kafka_sasl_password: SecretStr | None = Field(
        default=None, description="SASL password (required with SASL_*); never logged or shown")
    kafka_ssl_cafile: Path | None = Field(
        default=None, description="PEM file of the CA that signed the brokers' certificates, with SSL or SASL_SSL "
                                  "(default: the system's trusted CAs)")

    http_host: str = Field(default="127.0.0.1", description="address the HTTP APIs listen on (0.0.0.0 in containers)")
    http_port: int = Field(default=8000, ge=0, le=65535, description="port of the commands API (connections serve)")
    query_port: int = Field(default=8001, ge=0, le=65535, description="port of the views API (connections projections)")
    dashboard_commands_url: str | None = Field(
        default=None, max_length=2048, pattern=r"^https?://[^\s/]+(/[^\s]*)?$",
        description="the commands API as browsers reach it, for the dashboard (default: the page's host, http_port)")
    dashboard_origins: list[str] = Field(
        default_factory=list, description="origins besides http://127.0.0.1|localhost:<query_port> that serve the "
                                          "dashboard and may call the commands API from a browser (CORS)")

    master_keys: dict[str, str] = Field(
        default_factory=lambda: {"dev": _DEV_MASTER_KEY},
        description="key id -> base64 32-byte key wrapping per-connection data keys",
    )
    master_key_id: str = Field(default="dev", description="id in master_keys that wraps new data keys")
    worker_key: str = Field(default=_DEV_WORKER_KEY, description="base64 32-byte key sealing credentials for workers")

    command_key: str = Field(
        default=_DEV_COMMAND_KEY,
        description="base64 32-byte X25519 private key; senders seal CreateConnection/EditConnection credentials to "
                    "its public key (GET /v1/contracts/command-key)",
    )
    command_previous_keys: list[str] = Field(
        default_factory=list, description="retired command keys, still opened while senders switch over",
    )
    cipher_key: str | None = Field(
        default=None,
        description="base64 16/24/32-byte key: encrypt every stored event's payload (eventsourcing's AES-GCM "
                    "cipher); every process reading the store needs the same key",
    )

    api_tokens: dict[str, dict[str, object]] = Field(
        default_factory=lambda: {"dev-admin-token": {"tenant": "demo", "roles": ["admin"], "actor": "demo-admin"}},
        description='static bearer tokens: {"token": {"tenant": "t", "roles": ["admin"], "actor": "name"}}',
    )
    jwt_issuer: str | None = Field(default=None, description="the identity provider's 'iss'; enables JWT bearer tokens")
    jwt_audience: str = Field(default="omni-connections", description="'aud' the tokens must be issued for")
    jwt_public_keys: list[str] = Field(default_factory=list, description="PEM public keys that sign tokens")
    jwt_jwks: dict[str, Any] | None = Field(default=None, description="a JWKS document of the token signing keys")
    jwt_jwks_file: Path | None = Field(default=None, description="a file holding the JWKS document instead")
    jwt_algorithms: list[str] = Field(default_factory=lambda: ["RS256", "ES256", "EdDSA"],
                                      description="JWT signature algorithms accepted")
    jwt_leeway: float = Field(default=60.0, ge=0, le=600, description="seconds of clock skew tolerated on exp/nbf/iat")
    jwt_tenant_claim: str = Field(default="tenant_id", min_length=1, description="claim naming the tenant")
    jwt_roles_claim: str = Field(default="roles", min_length=1, description="claim listing the roles")
    bus_actors: dict[str, dict[str, object]] = Field(
        default_factory=lambda: {"example-platform-client": {"roles": ["admin"]}},  # type: ignore[arg-type]
        description='platform services sending commands, by envelope actor: '
                    '{"orders-service": {"roles": ["operator"], "tenants": ["acme"]}} (tenants optional: any)',
    )

    amazon_app_client_id: str | None = Field(default=None, description="the platform's LWA app client id")
    amazon_app_client_secret: str | None = Field(default=None, description="the platform's LWA app client secret")

    aggregate_cache_size: int = Field(default=10_000, ge=0, description="aggregates kept in memory by the write side (0 = off)")
    command_batch_size: int = Field(default=500, ge=1, le=5000, description="bus commands stored per transaction at most")

    poll_interval: float = Field(default=0.05, gt=0, description="seconds between store polls of followers")
    job_timeout: float = Field(default=120.0, gt=0, description="seconds without a report before a job times out")
    watchdog_interval: float = Field(default=5.0, gt=0, description="seconds between the watchdog's sweeps")
    job_retry_backoff: float = Field(default=5.0, ge=0, description="seconds before a job's 2nd attempt (doubling after)")
    log_json: bool | None = Field(default=None, description="JSON log lines; default: when not on a terminal")
    metrics_port: int = Field(default=0, ge=0, le=65535, description="port of /metrics for the relay and workers "
                              "(the HTTP processes serve it on their own port); 0 = off")
    metrics_interval: float = Field(default=15.0, gt=0, description="seconds between consumer-lag samples")
    traces_exporter: Literal["none", "otlp", "console", "jsonl"] = Field(
        default="none", description="where spans go; otlp reads the standard OTEL_EXPORTER_OTLP_* variables, "
                                    "jsonl writes a file per process under traces_dir")
    traces_dir: Path = Field(default=Path(".data/traces"), description="folder of the jsonl span files")

    @field_validator("master_keys", "worker_key", "command_key", "command_previous_keys")
    @classmethod
    def _keys_are_32_bytes(cls, value: Any) -> Any:
        keys = value.values() if isinstance(value, dict) else value if isinstance(value, list) else [value]
        for key in keys:
            if len(_b64(key)) != 32:
                raise ValueError("keys must be base64 of exactly 32 bytes")
        return value

    @field_validator("cipher_key")
    @classmethod
    def _cipher_key_size(cls, value: str | None) -> str | None:
        if value is not None and len(_b64(value)) not in (16, 24, 32):
            raise ValueError("the cipher key must be base64 of 16, 24 or 32 bytes")
        return value

    @field_validator("jwt_algorithms")
    @classmethod
    def _asymmetric_only(cls, value: list[str]) -> list[str]:
        unsupported = sorted(set(value) - set(_JWT_ALGORITHMS))
        if unsupported:
            raise ValueError(f"only asymmetric JWT algorithms are accepted ({', '.join(_JWT_ALGORITHMS)}): {unsupported}")
        return value

    @model_validator(mode="after")
    def _master_key_id_is_known(self) -> Settings:
        if self.master_key_id not in self.master_keys:
            raise ValueError(f"master_key_id {self.master_key_id!r} is not among master_keys")
        return self

    @model_validator(mode="after")
    def _kafka_security_is_complete(self) -> Settings:
        sasl = self.kafka_security_protocol.startswith("SASL_")
        if sasl and not (self.kafka_sasl_username and self.kafka_sasl_password
                         and self.kafka_sasl_password.get_secret_value()):
            raise ValueError("OMNI_KAFKA_SECURITY_PROTOCOL=SASL_* needs OMNI_KAFKA_SASL_USERNAME and "
                             "OMNI_KAFKA_SASL_PASSWORD")
        if not sasl and (self.kafka_sasl_username or self.kafka_sasl_password):
            raise ValueError("a Kafka SASL user or password is set but OMNI_KAFKA_SECURITY_PROTOCOL is not SASL_*")
        if self.kafka_ssl_cafile is not None and not self.kafka_security_protocol.endswith("SSL"):
            raise ValueError("OMNI_KAFKA_SSL_CAFILE is set but OMNI_KAFKA_SECURITY_PROTOCOL is not SSL or SASL_SSL")
        return self

    @property
    def using_dev_keys(self) -> bool:
        return (_DEV_MASTER_KEY in self.master_keys.values() or self.worker_key == _DEV_WORKER_KEY
                or self.command_key == _DEV_COMMAND_KEY)

    def eventsourcing_env(self) -> dict[str, str]:
        """The environment of the eventsourcing library's infrastructure factory for this store."""
        # The library's AES-GCM cipher on the `cryptography` package (eventsourcing.cipher needs PyCryptodome).
        cipher = {"CIPHER_TOPIC": "eventsourcing.cryptography:AESCipher", "CIPHER_KEY": self.cipher_key or ""}
        if self.store is Store.SQLITE:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            return {
                "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "SQLITE_DBNAME": str(self.data_dir / "events.sqlite"),
                "SQLITE_LOCK_TIMEOUT": "10",
                **(cipher if self.cipher_key else {}),
                **self._cache_env(),
            }
        if not self.database_url:
            raise ValueError("OMNI_DATABASE_URL is required when OMNI_STORE=postgres")
        url = urlsplit(self.database_url)
        return {
            **(cipher if self.cipher_key else {}),
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": url.path.lstrip("/"),
            "POSTGRES_HOST": url.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(url.port or 5432),
            "POSTGRES_USER": url.username or "postgres",
            "POSTGRES_PASSWORD": url.password or "",
            "POSTGRES_POOL_SIZE": str(self.db_pool_size),
            # A pooled connection is tested before use: one left from before a database restart is replaced
            # instead of failing the relay or the projection runner (tests/reliability).
            "POSTGRES_PRE_PING": "y",
            # The library's recorder, sending each save's events in binary (shared/postgres_recorder.py).
            "APPLICATION_RECORDER_TOPIC": "shared.postgres_recorder:BinaryInsertRecorder",
            **self._cache_env(),
        }

    def _cache_env(self) -> dict[str, str]:
        # Fast-forwarded from the store on every read, so a cached aggregate is never stale, even with
        # several write-side replicas.
        if not self.aggregate_cache_size:
            return {}
        return {"AGGREGATE_CACHE_MAXSIZE": str(self.aggregate_cache_size), "AGGREGATE_CACHE_FASTFORWARD": "y"}

    def sql_url(self, name: str) -> str:
        """Where a side database lives: a SQLite file under the data dir, or the PostgreSQL database."""
        if self.store is Store.SQLITE:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            return f"sqlite:///{self.data_dir / name}.sqlite"
        assert self.database_url is not None
        return self.database_url


def _b64(value: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except ValueError:
        raise ValueError("not valid base64") from None
