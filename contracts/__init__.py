"""Public messages of Omni-Channel Connections: what other platform services send and receive over Kafka.

Depends on pydantic only. Start with :mod:`contracts.topics` (topic names), :mod:`contracts.commands`,
:mod:`contracts.events` and :mod:`contracts.registry` (``encode``/``decode``); ``schemas/`` and
``asyncapi.json`` beside this file are the same contract for other languages.
"""

__version__ = "1.0.0"
