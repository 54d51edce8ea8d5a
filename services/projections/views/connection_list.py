"""The connection list view: one row per connection not deleted, for the Connections tab."""

from __future__ import annotations

from collections.abc import Sequence
from operator import attrgetter

from services.projections.adapters import connection_list_table as table
from services.projections.adapters import connection_list_words as words
from services.projections.adapters.tables import Row, TableSpec
from services.projections.domain import connection_list
from services.projections.projection import Change, Recorded
from services.projections.views.keyed import apply_keyed
from shared.sql import Transaction

TOPICS = frozenset({
    "Connection.Created.v1", "Connection.Edited.v1", "Connection.Disabled.v1", "Connection.Enabled.v1",
    "Connection.DeletionStarted.v1", "Connection.DeletionStepCompleted.v1", "Connection.Deleted.v1",
    "Connection.JobRequested.v1", "Connection.JobStarted.v1", "Connection.JobProgressed.v1",
    "Connection.JobRetried.v1", "Connection.JobEnded.v1",
})
BY_CONNECTION = attrgetter("event.originator_id")  # an event's connection (its aggregate): the row's key


class ConnectionListView:
    name = "connection_list"
    version = 3  # 2: credential check time and last sync outcome; 3: the names' words and vocabulary
    topics = TOPICS

    def __init__(self, spec: TableSpec = table.SPEC, words_spec: TableSpec = words.WORDS,
                 vocabulary: TableSpec = words.VOCABULARY) -> None:
        self.spec, self.words, self.vocabulary = spec, words_spec, vocabulary

    def tables(self) -> list[TableSpec]:
        return [self.spec, self.words, self.vocabulary]

    def on_tables(self, suffix: str) -> ConnectionListView:
        return ConnectionListView(*(spec.named(spec.name + suffix) for spec in self.tables()))

    def apply(self, tx: Transaction, events: Sequence[Recorded], *, changes: bool = True) -> list[Change]:
        return apply_keyed(tx, self.name, self.spec, events, BY_CONNECTION, connection_list.evolve, changes=changes,
                           written=self._write_words)

    def _write_words(self, tx: Transaction, before: dict[str, Row | None], after: dict[str, Row | None]) -> None:
        words.write(tx, self.words, self.vocabulary, before, after)
