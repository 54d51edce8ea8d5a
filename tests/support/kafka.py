"""Pytest fixture that provides the real local Kafka broker.

Import it where it is needed (a test module or ``tests/conftest.py``)::

    from tests.support.kafka import kafka_broker  # noqa: F401

The broker is started once per test session on free loopback ports, in a
temporary folder, and stopped at the end. Tests may ``stop()``, ``kill()`` and
``start()`` it again; they must leave it running.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shared.local_kafka import LocalKafka


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafka]:
    """A started :class:`LocalKafka` shared by the whole session.

    Its ``bootstrap`` attribute is the address for clients. Topics are created
    on first use (3 partitions), so each test should use its own topic names.
    """
    broker = LocalKafka(tmp_path_factory.mktemp("kafka"))
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()
