"""Session fixtures shared by every test level: the real Kafka broker and the throwaway PostgreSQL."""

from tests.support.kafka import kafka_broker  # noqa: F401
from tests.support.postgres import postgres_dsn, postgres_server  # noqa: F401
from tests.support.stack import running_stack  # noqa: F401
