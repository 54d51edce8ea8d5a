"""One settings object per process, read from ``OMNI_*`` environment variables and validated at start."""

from __future__ import annotations

import base64
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Development keys: used only when none are configured, and `make up` says so. Never use them in production.
_DEV_MASTER_KEY = base64.b64encode(b"omni-dev-master-key-do-not-use!!").decode()
_DEV_WORKER_KEY = base64.b64encode(b"omni-dev-worker-key-do-not-use!!").decode()


class Store(StrEnum):
    SQLITE = "sqlite"
    POSTGRES = "postgres"


class Settings(BaseSettings):
    """Every knob of every process. Environment variable names are ``OMNI_`` + the field name in capitals."""

    model_config = SettingsConfigDict(env_prefix="OMNI_", extra="ignore")

    data_dir: Path = Field(default=Path(".data"), description="SQLite files of the embedded default")
    store: Store = Store.SQLITE
    database_url: str | None = Field(default=None, description="postgresql://user:pw@host:port/db when store=postgres")
    db_pool_size: int = Field(default=10, ge=1, le=200)

    kafka_bootstrap: str = "127.0.0.1:9092"
    kafka_namespace: str = Field(default="", max_length=100, pattern=r"^[A-Za-z0-9._-]*$",
                                 description="prefix of every topic and consumer group, e.g. 'staging.'")
    kafka_partitions: int = Field(default=3, ge=1)
    kafka_replication: int = Field(default=1, ge=1)

    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, ge=0, le=65535)
    query_port: int = Field(default=8001, ge=0, le=65535)

    master_keys: dict[str, str] = Field(
        default_factory=lambda: {"dev": _DEV_MASTER_KEY},
        description="key id -> base64 32-byte key wrapping per-connection data keys",
    )
    master_key_id: str = "dev"
    worker_key: str = Field(default=_DEV_WORKER_KEY, description="base64 32-byte key sealing credentials for workers")

    api_tokens: dict[str, dict[str, object]] = Field(
        default_factory=lambda: {"dev-admin-token": {"tenant": "demo", "roles": ["admin"], "actor": "demo-admin"}},
        description='static bearer tokens: {"token": {"tenant": "t", "roles": ["admin"], "actor": "name"}}',
    )

    amazon_app_client_id: str | None = Field(default=None, description="the platform's LWA app client id")
    amazon_app_client_secret: str | None = Field(default=None, description="the platform's LWA app client secret")

    poll_interval: float = Field(default=0.05, gt=0, description="seconds between store polls of followers")
    job_timeout: float = Field(default=120.0, gt=0, description="seconds without a report before a job times out")
    log_json: bool | None = Field(default=None, description="JSON log lines; default: when not on a terminal")

    @field_validator("master_keys", "worker_key")
    @classmethod
    def _keys_are_32_bytes(cls, value: Any) -> Any:
        keys = value.values() if isinstance(value, dict) else [value]
        for key in keys:
            if len(base64.b64decode(key)) != 32:
                raise ValueError("keys must be base64 of exactly 32 bytes")
        return value

    @property
    def using_dev_keys(self) -> bool:
        return _DEV_MASTER_KEY in self.master_keys.values() or self.worker_key == _DEV_WORKER_KEY

    def eventsourcing_env(self) -> dict[str, str]:
        """The environment of the eventsourcing library's infrastructure factory for this store."""
        if self.store is Store.SQLITE:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            return {
                "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "SQLITE_DBNAME": str(self.data_dir / "events.sqlite"),
                "SQLITE_LOCK_TIMEOUT": "10",
            }
        if not self.database_url:
            raise ValueError("OMNI_DATABASE_URL is required when OMNI_STORE=postgres")
        url = urlsplit(self.database_url)
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": url.path.lstrip("/"),
            "POSTGRES_HOST": url.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(url.port or 5432),
            "POSTGRES_USER": url.username or "postgres",
            "POSTGRES_PASSWORD": url.password or "",
            "POSTGRES_POOL_SIZE": str(self.db_pool_size),
        }

    def sql_url(self, name: str) -> str:
        """Where a side database lives: a SQLite file under the data dir, or the PostgreSQL database."""
        if self.store is Store.SQLITE:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            return f"sqlite:///{self.data_dir / name}.sqlite"
        assert self.database_url is not None
        return self.database_url
