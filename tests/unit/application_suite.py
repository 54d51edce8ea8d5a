"""The connections application's behaviour, as one suite every event store backend must pass.

``ApplicationSuite`` is not collected by itself (no ``Test`` prefix). Each backend subclasses it once and
overrides the ``make_app`` fixture, a factory of :class:`Connections` applications on that backend
(``tests/unit/test_application_memory.py``, ``tests/integration/test_application_sqlite.py`` and
``tests/integration/test_application_postgres.py``). Every test drives the application the way its
entrances do: commands through :meth:`Connections.execute`, worker reports through
:meth:`Connections.record_report`.
"""

from __future__ import annotations

import functools
import itertools
import re
import threading
from collections.abc import Callable, Iterator
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.application import AggregateNotFoundError, project_aggregate
from eventsourcing.domain import Aggregate
from pydantic import ValidationError

from contracts import commands as cmd
from contracts import reports
from contracts.datamodel import Attribute, AttributeSet, AttributeType, DataModel
from contracts.results import CommandResult, Outcome
from contracts.chunking import model_digest, split_model
from services.connections.adapters.catalog import MASK, PydanticCatalog
from services.connections.application import Connections
from services.connections.domain.connection import MAX_JOB_ATTEMPTS, Connection, CredentialState, Status
from services.connections.domain.errors import ConnectionsError
from services.connections.domain.jobs import JobKind
from services.connections.domain.meta import Meta
from services.connections.domain.mirror import DataModelMirror
from services.connections.domain.tenant import Tenant
from tests.unit.fakes import InMemoryVault

MakeApp = Callable[..., Connections]
"""Builds an application on the suite's store; ``catalog=`` replaces the driver catalog."""

TENANT = "acme"
OTHER_TENANT = "globex"
SECRET = "S3CRET-MARKER-one"
SECRET_TWO = "S3CRET-MARKER-two"
SECRET_THREE = "S3CRET-MARKER-three"
MARKER = b"S3CRET-MARKER"

CREDENTIALS: dict[str, dict[str, Any]] = {
    "shopware6": {"url": "https://shop.example.com", "access_key_id": "SWIA-KEY", "secret_access_key": SECRET},
    "shopify": {"shop_domain": "outlet", "access_token": SECRET_THREE},
    "pos": {},
}

MODEL = DataModel(
    attributes=(
        Attribute(code="color", labels={"default": "Color"}, type=AttributeType.SELECT),
        Attribute(code="size", labels={"default": "Size"}, type=AttributeType.TEXT),
    ),
    attribute_sets=(AttributeSet(code="shirts", attribute_codes=("color", "size")),),
)


# ----- how the suite talks to the application ----------------------------------------------------------


def meta(tenant: str = TENANT, actor: str = "alice") -> Meta:
    return Meta(tenant_id=tenant, actor=actor, correlation_id=str(uuid4()))


def run(app: Connections, command: cmd.Message, *, tenant: str = TENANT, command_id: UUID | None = None
        ) -> CommandResult:
    return app.execute(command, command_id or uuid4(), meta(tenant))


def report(app: Connections, message: reports.JobReport) -> bool:
    return app.record_report(message, meta(tenant="", actor="worker-1"))


def position(app: Connections) -> int:
    return app.recorder.max_notification_id() or 0


def connection(app: Connections, connection_id: UUID) -> Connection:
    aggregate: Aggregate = app.repository.get(connection_id)
    assert isinstance(aggregate, Connection)
    return aggregate


def tenant_of(app: Connections, tenant: str = TENANT) -> Tenant:
    aggregate: Aggregate = app.repository.get(Tenant.id_for(tenant))
    assert isinstance(aggregate, Tenant)
    return aggregate


def job_of(app: Connections, connection_id: UUID, kind: JobKind) -> UUID | None:
    job = connection(app, connection_id).running_job(kind)
    return UUID(job.job_id) if job is not None else None


def topics(app: Connections, after: int = 0) -> list[str]:
    return [n.topic for n in app.recorder.select_notifications(after + 1, 10_000)]


def outcomes(result: CommandResult) -> list[tuple[Outcome, str | None]]:
    return [(item.outcome, item.reason_code) for item in result.items]


def install(app: Connections, *drivers: str, tenant: str = TENANT) -> None:
    for driver in drivers:
        assert run(app, cmd.InstallDriver(driver=driver), tenant=tenant).accepted


def create(app: Connections, driver: str = "shopware6", name: str = "Main shop", *, tenant: str = TENANT,
           credentials: dict[str, Any] | None = None) -> tuple[UUID, UUID]:
    """A new connection (driver installed first); returns its id and its credential check's job id."""
    if driver not in tenant_drivers(app, tenant):
        install(app, driver, tenant=tenant)
    result = run(app, cmd.CreateConnection(
        name=name, driver=driver, credentials=credentials if credentials is not None else CREDENTIALS[driver],
    ), tenant=tenant)
    assert result.accepted, result
    item = result.items[0]
    assert item.connection_id is not None and item.job_id is not None
    return item.connection_id, item.job_id


def tenant_drivers(app: Connections, tenant: str) -> dict[str, str]:
    try:
        return dict(tenant_of(app, tenant).drivers)
    except AggregateNotFoundError:
        return {}


def succeed(app: Connections, connection_id: UUID, job_id: UUID, data_model: DataModel | None = None) -> bool:
    report(app, reports.JobStarted(job_id=job_id, connection_id=connection_id, worker="worker-1"))
    return report(app, reports.JobSucceeded(job_id=job_id, connection_id=connection_id, data_model=data_model))


def establish(app: Connections, driver: str = "shopware6", name: str = "Main shop", *, tenant: str = TENANT,
              synced: bool = True) -> UUID:
    """A connection whose credentials were verified; its initial sync finished too when ``synced``."""
    connection_id, check = create(app, driver, name, tenant=tenant)
    assert succeed(app, connection_id, check)
    if synced:
        sync = job_of(app, connection_id, JobKind.SYNC)
        assert sync is not None
        assert succeed(app, connection_id, sync, MODEL)
    return connection_id


# ----- the suite ---------------------------------------------------------------------------------------


class ApplicationSuite:
    """Subclass once per backend and override :meth:`make_app`."""

    @pytest.fixture
    def make_app(self) -> Iterator[MakeApp]:
        raise NotImplementedError("a backend's test class provides make_app")

    @pytest.fixture
    def app(self, make_app: MakeApp) -> Connections:
        return make_app()

    # ----- drivers -----------------------------------------------------------------------------------

    def test_installing_a_driver_is_done_once_then_already_so(self, app: Connections) -> None:
        first = run(app, cmd.InstallDriver(driver="shopware6"))
        before = position(app)
        again = run(app, cmd.InstallDriver(driver="shopware6"))

        assert (first.accepted, outcomes(first)) == (True, [(Outcome.DONE, None)])
        assert (again.accepted, outcomes(again)) == (True, [(Outcome.ALREADY, None)])
        assert position(app) == before
        assert tenant_of(app).drivers == {"shopware6": "1.0.0"}

    def test_installing_an_unknown_driver_is_refused_and_stores_nothing(self, app: Connections) -> None:
        result = run(app, cmd.InstallDriver(driver="shopwar7"))

        assert (result.accepted, result.reason_code) == (False, "unknown_driver")
        assert position(app) == 0

    def test_uninstalling_an_unused_driver_is_done_and_uninstalling_it_again_changes_nothing(
        self, app: Connections
    ) -> None:
        install(app, "shopify")

        first = run(app, cmd.UninstallDriver(driver="shopify"))
        before = position(app)
        again = run(app, cmd.UninstallDriver(driver="shopify"))

        assert outcomes(first) == [(Outcome.DONE, None)]
        assert outcomes(again) == [(Outcome.ALREADY, None)]
        assert position(app) == before
        assert tenant_of(app).drivers == {}

    def test_a_driver_cannot_be_uninstalled_while_connections_use_it(self, app: Connections) -> None:
        create(app, "shopify")
        before = position(app)

        result = run(app, cmd.UninstallDriver(driver="shopify"))

        assert (result.accepted, result.reason_code) == (False, "driver_in_use")
        assert position(app) == before
        assert "shopify" in tenant_of(app).drivers

    def test_a_driver_can_be_uninstalled_once_its_connections_are_deleted(self, app: Connections) -> None:
        connection_id, _ = create(app, "shopify")
        run(app, cmd.DisableConnections(connection_ids=[connection_id]))
        run(app, cmd.DeleteConnections(connection_ids=[connection_id]))

        result = run(app, cmd.UninstallDriver(driver="shopify"))

        assert outcomes(result) == [(Outcome.DONE, None)]

    # ----- create ------------------------------------------------------------------------------------

    def test_a_created_connection_is_active_and_its_credentials_are_being_checked(self, app: Connections) -> None:
        install(app, "shopware6")
        before = position(app)

        result = run(app, cmd.CreateConnection(name="Main shop", driver="shopware6",
                                               credentials=CREDENTIALS["shopware6"]))

        assert result.accepted and outcomes(result) == [(Outcome.DONE, None)]
        item = result.items[0]
        assert item.connection_id is not None
        created = connection(app, item.connection_id)
        assert (created.name, created.driver, created.tenant_id) == ("Main shop", "shopware6", TENANT)
        assert created.status is Status.ACTIVE and created.credential_state is CredentialState.CHECKING
        assert job_of(app, item.connection_id, JobKind.CHECK_CREDENTIALS) == item.job_id
        assert created.settings["default_language"] == "en-GB"  # settings defaults filled in
        assert sorted(topics(app, before)) == sorted([
            "Connection.Created.v1", "Connection.JobRequested.v1", "Tenant.ConnectionAdded.v1",
            "ProcessedCommand.Created.v1",
        ])
        assert result.position == position(app)

    def test_the_caller_may_choose_the_connection_id_but_not_twice(self, app: Connections) -> None:
        install(app, "pos")
        chosen = uuid4()

        first = run(app, cmd.CreateConnection(connection_id=chosen, name="Till 1", driver="pos"))
        before = position(app)
        second = run(app, cmd.CreateConnection(connection_id=chosen, name="Till 2", driver="pos"))

        assert first.items[0].connection_id == chosen
        assert (second.accepted, second.reason_code) == (False, "connection_exists")
        assert position(app) == before
        assert connection(app, chosen).name == "Till 1"

    @pytest.mark.parametrize(
        ("driver", "credentials", "settings", "reason", "field"),
        [
            ("shopwar7", {}, {}, "unknown_driver", "shopwar7"),
            ("shopify", CREDENTIALS["shopify"], {}, "driver_not_installed", "shopify"),
            ("shopware6", {"url": "https://shop.example.com", "secret_access_key": SECRET}, {},
             "invalid_credentials", "access_key_id"),
            ("shopware6", {**CREDENTIALS["shopware6"], "password": SECRET}, {}, "invalid_credentials", "password"),
            ("shopware6", {**CREDENTIALS["shopware6"], "access_key_id": 12345}, {}, "invalid_credentials",
             "access_key_id"),
            ("shopware6", {**CREDENTIALS["shopware6"], "access_key_id": "K" * 256}, {}, "invalid_credentials",
             "access_key_id"),
            ("shopware6", {**CREDENTIALS["shopware6"], "secret_access_key": SECRET + "x" * 1024}, {},
             "invalid_credentials", "secret_access_key"),
            ("shopware6", {**CREDENTIALS["shopware6"], "url": "http://shop.example.com"}, {},
             "invalid_credentials", "url"),
            ("shopware6", CREDENTIALS["shopware6"], {"default_language": 42}, "invalid_settings",
             "default_language"),
            ("shopware6", CREDENTIALS["shopware6"], {"unknown_setting": True}, "invalid_settings",
             "unknown_setting"),
        ],
        ids=["unknown_driver", "uninstalled_driver", "missing_field", "extra_field", "wrong_type",
             "oversized_string", "oversized_secret", "insecure_url", "wrong_setting_type", "extra_setting"],
    )
    def test_bad_input_to_create_is_refused_before_anything_is_stored(
        self, app: Connections, driver: str, credentials: dict[str, Any], settings: dict[str, Any],
        reason: str, field: str,
    ) -> None:
        install(app, "shopware6")
        before = position(app)

        result = run(app, cmd.CreateConnection(name="Main shop", driver=driver, credentials=credentials,
                                               settings=settings))

        assert (result.accepted, result.reason_code, result.items) == (False, reason, [])
        assert result.message is not None and field in result.message
        assert SECRET not in result.message  # a refused secret is never echoed back
        assert position(app) == before

    @pytest.mark.parametrize(
        "build",
        [
            lambda: cmd.CreateConnection(name="", driver="shopware6"),
            lambda: cmd.CreateConnection(name="x" * 201, driver="shopware6"),
            lambda: cmd.CreateConnection(name="Main shop", driver="Shopware 6!"),
            lambda: cmd.CreateConnection.model_validate(
                {"name": "Main shop", "driver": "shopware6", "credentials": "not a dict"}
            ),
            lambda: cmd.EditConnection.model_validate({"connection_id": "not-a-uuid"}),
            lambda: cmd.RequestSync(connection_ids=[]),
            lambda: cmd.DisableConnections(connection_ids=[uuid4() for _ in range(501)]),
        ],
        ids=["empty_name", "oversized_name", "bad_driver_id", "credentials_not_an_object", "bad_uuid",
             "no_connections", "too_many_connections"],
    )
    def test_malformed_commands_are_refused_at_the_edge(self, build: Callable[[], object]) -> None:
        with pytest.raises(ValidationError):
            build()

    # ----- credential check and initial sync ---------------------------------------------------------

    def test_verified_credentials_establish_the_connection_and_trigger_the_initial_sync(
        self, app: Connections
    ) -> None:
        connection_id, check = create(app)

        assert report(app, reports.JobStarted(job_id=check, connection_id=connection_id, worker="w")) is True
        assert report(app, reports.JobSucceeded(job_id=check, connection_id=connection_id)) is True

        established = connection(app, connection_id)
        assert established.established and established.credential_state is CredentialState.VERIFIED
        sync = established.running_job(JobKind.SYNC)
        assert sync is not None  # "Sync triggered"

    def test_rejected_credentials_keep_the_connection_not_established_and_trigger_no_sync(
        self, app: Connections
    ) -> None:
        connection_id, check = create(app)

        report(app, reports.JobFailed(job_id=check, connection_id=connection_id, error_type="credentials_rejected",
                                      message="401 Unauthorized"))

        rejected = connection(app, connection_id)
        assert not rejected.established and rejected.credential_state is CredentialState.REJECTED
        assert rejected.jobs == {}
        result = run(app, cmd.RequestSync(connection_ids=[connection_id]))
        assert outcomes(result) == [(Outcome.REFUSED, "not_established")]

    def test_a_finished_sync_mirrors_the_data_model_and_an_unchanged_one_records_nothing(
        self, app: Connections
    ) -> None:
        connection_id = establish(app)
        mirror: DataModelMirror = app.repository.get(DataModelMirror.id_for(connection_id))
        assert set(mirror.attributes) == {"color", "size"} and set(mirror.attribute_sets) == {"shirts"}

        sync = run(app, cmd.RequestSync(connection_ids=[connection_id])).items[0].job_id
        assert sync is not None
        before = position(app)
        assert succeed(app, connection_id, sync, MODEL)

        assert "DataModelMirror.Synced.v1" not in topics(app, before)

    # ----- edit --------------------------------------------------------------------------------------

    def test_editing_name_and_settings_syncs_again_and_leaves_the_driver_untouched(self, app: Connections) -> None:
        connection_id = establish(app)

        result = run(app, cmd.EditConnection(connection_id=connection_id, name="Berlin shop", driver="shopware6",
                                             settings={"default_language": "de-DE"}))

        assert outcomes(result) == [(Outcome.DONE, None)]
        edited = connection(app, connection_id)
        assert (edited.name, edited.driver, edited.settings["default_language"]) == (
            "Berlin shop", "shopware6", "de-DE",
        )
        assert result.items[0].job_id == job_of(app, connection_id, JobKind.SYNC)

    def test_editing_while_a_sync_runs_names_the_running_sync(self, app: Connections) -> None:
        connection_id = establish(app, synced=False)
        running = job_of(app, connection_id, JobKind.SYNC)

        result = run(app, cmd.EditConnection(connection_id=connection_id, name="Renamed"))

        assert result.items[0].job_id == running
        assert len([j for j in connection(app, connection_id).jobs.values() if j.kind is JobKind.SYNC]) == 1

    def test_changed_credentials_are_checked_again_before_the_next_sync(self, app: Connections) -> None:
        connection_id = establish(app)

        result = run(app, cmd.EditConnection(connection_id=connection_id,
                                             credentials={"secret_access_key": SECRET_TWO}))

        check = result.items[0].job_id
        assert outcomes(result) == [(Outcome.DONE, None)]
        assert check is not None and check == job_of(app, connection_id, JobKind.CHECK_CREDENTIALS)
        sync = run(app, cmd.RequestSync(connection_ids=[connection_id]))
        assert outcomes(sync) == [(Outcome.REFUSED, "credentials_being_checked")]
        stored = connection(app, connection_id)
        assert app.vault.open(connection_id, stored.credentials)["secret_access_key"] == SECRET_TWO
        assert app.vault.open(connection_id, stored.credentials)["access_key_id"] == "SWIA-KEY"  # kept

        assert succeed(app, connection_id, check)
        assert job_of(app, connection_id, JobKind.SYNC) is not None

    @pytest.mark.parametrize(
        "edit",
        [
            {},
            {"name": "Main shop", "driver": "shopware6"},
            {"credentials": {"secret_access_key": MASK}},
            {"credentials": {"secret_access_key": None}},
            {"credentials": dict(CREDENTIALS["shopware6"])},
            {"settings": {}},
        ],
        ids=["empty", "same_name_and_driver", "masked_secret", "omitted_secret", "same_credentials",
             "default_settings"],
    )
    def test_an_edit_that_changes_nothing_is_already_so_and_stores_nothing(
        self, app: Connections, edit: dict[str, Any]
    ) -> None:
        connection_id = establish(app)
        before = position(app)

        result = run(app, cmd.EditConnection(connection_id=connection_id, **edit))

        assert (result.accepted, outcomes(result)) == (True, [(Outcome.ALREADY, None)])
        assert position(app) == before
        stored = connection(app, connection_id)
        assert app.vault.open(connection_id, stored.credentials)["secret_access_key"] == SECRET

    @pytest.mark.parametrize(
        ("edit", "reason"),
        [
            ({"driver": "shopify"}, "driver_read_only"),
            ({"name": "Renamed", "driver": "shopify"}, "driver_read_only"),
            ({"credentials": {"api_key": "x"}}, "invalid_credentials"),
            ({"credentials": {"access_key_id": ["not", "a", "string"]}}, "invalid_credentials"),
            ({"credentials": {"access_key_id": "K" * 256}}, "invalid_credentials"),
            ({"settings": {"order_import_states": "open"}}, "invalid_settings"),
        ],
        ids=["other_driver", "rename_and_other_driver", "extra_field", "wrong_type", "oversized_string",
             "wrong_setting_type"],
    )
    def test_a_refused_edit_stores_nothing(self, app: Connections, edit: dict[str, Any], reason: str) -> None:
        connection_id = establish(app)
        before = position(app)

        result = run(app, cmd.EditConnection(connection_id=connection_id, **edit))

        assert (result.accepted, result.reason_code) == (False, reason)
        assert position(app) == before
        unchanged = connection(app, connection_id)
        assert (unchanged.name, unchanged.driver) == ("Main shop", "shopware6")

    # ----- synchronize -------------------------------------------------------------------------------

    def test_synchronizing_an_established_connection_starts_a_sync(self, app: Connections) -> None:
        connection_id = establish(app)

        result = run(app, cmd.RequestSync(connection_ids=[connection_id]))

        assert outcomes(result) == [(Outcome.DONE, None)]
        assert result.items[0].job_id == job_of(app, connection_id, JobKind.SYNC)

    def test_a_running_sync_is_not_duplicated_and_its_job_id_is_returned(self, app: Connections) -> None:
        connection_id = establish(app, synced=False)
        running = job_of(app, connection_id, JobKind.SYNC)
        before = position(app)

        result = run(app, cmd.RequestSync(connection_ids=[connection_id]))

        assert (result.accepted, outcomes(result)) == (True, [(Outcome.ALREADY, None)])
        assert result.items[0].job_id == running
        assert position(app) == before

    @pytest.mark.parametrize(
        ("prepare", "reason"),
        [
            ("disabled", "connection_inactive"),
            ("checking", "credentials_being_checked"),
            ("rejected", "not_established"),
            ("deleting", "connection_being_deleted"),
        ],
    )
    def test_only_active_established_connections_synchronize(
        self, app: Connections, prepare: str, reason: str
    ) -> None:
        connection_id, check = create(app)
        if prepare == "rejected":
            report(app, reports.JobFailed(job_id=check, connection_id=connection_id,
                                          error_type="credentials_rejected", message="401"))
        if prepare in ("disabled", "deleting"):
            succeed(app, connection_id, check)
            run(app, cmd.DisableConnections(connection_ids=[connection_id]))
        if prepare == "deleting":
            assert run(app, cmd.DeleteConnections(connection_ids=[connection_id])).accepted
            assert connection(app, connection_id).status is Status.DELETING  # waits for the clean-up
        before = position(app)

        result = run(app, cmd.RequestSync(connection_ids=[connection_id]))

        assert (result.accepted, result.reason_code, outcomes(result)) == (False, reason, [(Outcome.REFUSED, reason)])
        assert position(app) == before

    def test_synchronizing_several_connections_answers_for_each(self, app: Connections) -> None:
        ready = establish(app)
        inactive = establish(app, "shopify", "Outlet")
        run(app, cmd.DisableConnections(connection_ids=[inactive]))
        unknown = uuid4()

        result = run(app, cmd.RequestSync(connection_ids=[ready, inactive, unknown, ready]))

        assert result.accepted  # at least one was done
        assert [item.connection_id for item in result.items] == [ready, inactive, unknown]
        assert outcomes(result) == [
            (Outcome.DONE, None), (Outcome.REFUSED, "connection_inactive"), (Outcome.NOT_FOUND, "not_found"),
        ]

    # ----- disable / enable --------------------------------------------------------------------------

    def test_several_connections_can_be_disabled_at_once(self, app: Connections) -> None:
        first, second = establish(app), establish(app, "shopify", "Outlet")

        result = run(app, cmd.DisableConnections(connection_ids=[first, second]))

        assert outcomes(result) == [(Outcome.DONE, None), (Outcome.DONE, None)]
        assert connection(app, first).status is Status.INACTIVE
        assert connection(app, second).status is Status.INACTIVE

    def test_disabling_an_inactive_connection_is_already_so_and_stores_nothing(self, app: Connections) -> None:
        connection_id = establish(app)
        run(app, cmd.DisableConnections(connection_ids=[connection_id]))
        before = position(app)

        result = run(app, cmd.DisableConnections(connection_ids=[connection_id]))

        assert (result.accepted, outcomes(result)) == (True, [(Outcome.ALREADY, None)])
        assert position(app) == before

    def test_disabling_cancels_the_running_sync_and_its_late_reports_change_nothing(self, app: Connections) -> None:
        connection_id = establish(app, synced=False)
        sync = job_of(app, connection_id, JobKind.SYNC)
        assert sync is not None
        report(app, reports.JobStarted(job_id=sync, connection_id=connection_id, worker="w"))

        run(app, cmd.DisableConnections(connection_ids=[connection_id]))
        before = position(app)

        assert connection(app, connection_id).jobs == {}
        late = [
            reports.JobProgressed(job_id=sync, connection_id=connection_id, done=5, total=9),
            reports.JobSucceeded(job_id=sync, connection_id=connection_id, data_model=MODEL),
            reports.JobFailed(job_id=sync, connection_id=connection_id, error_type="x", message="late"),
        ]
        assert [report(app, message) for message in late] == [False, False, False]
        assert position(app) == before

    def test_enabling_makes_connections_active_again_and_enabling_twice_changes_nothing(
        self, app: Connections
    ) -> None:
        first, second = establish(app), establish(app, "shopify", "Outlet")
        run(app, cmd.DisableConnections(connection_ids=[first, second]))

        result = run(app, cmd.EnableConnections(connection_ids=[first, second]))
        before = position(app)
        again = run(app, cmd.EnableConnections(connection_ids=[first]))

        assert outcomes(result) == [(Outcome.DONE, None), (Outcome.DONE, None)]
        assert outcomes(again) == [(Outcome.ALREADY, None)]
        assert position(app) == before
        assert connection(app, first).status is Status.ACTIVE

    def test_a_connection_disabled_while_its_credentials_were_checked_checks_them_again_when_enabled(
        self, app: Connections
    ) -> None:
        connection_id, check = create(app)
        run(app, cmd.DisableConnections(connection_ids=[connection_id]))  # cancels the check
        assert report(app, reports.JobSucceeded(job_id=check, connection_id=connection_id)) is False

        result = run(app, cmd.EnableConnections(connection_ids=[connection_id]))

        new_check = result.items[0].job_id
        assert new_check is not None and new_check == job_of(app, connection_id, JobKind.CHECK_CREDENTIALS)
        assert succeed(app, connection_id, new_check)
        assert job_of(app, connection_id, JobKind.SYNC) is not None

    # ----- delete ------------------------------------------------------------------------------------

    def test_only_inactive_connections_can_be_deleted(self, app: Connections) -> None:
        connection_id = establish(app)
        before = position(app)

        result = run(app, cmd.DeleteConnections(connection_ids=[connection_id]))

        assert (result.accepted, result.reason_code) == (False, "connection_active")
        assert outcomes(result) == [(Outcome.REFUSED, "connection_active")]
        assert position(app) == before
        assert connection(app, connection_id).status is Status.ACTIVE

    def test_deleting_a_connection_without_marketplace_state_finishes_at_once(self, app: Connections) -> None:
        connection_id = establish(app, "shopify", "Outlet")
        run(app, cmd.DisableConnections(connection_ids=[connection_id]))
        before = position(app)

        result = run(app, cmd.DeleteConnections(connection_ids=[connection_id]))

        assert outcomes(result) == [(Outcome.DONE, None)]
        deleted = connection(app, connection_id)
        assert deleted.status is Status.DELETED
        assert [t for t in topics(app, before) if t.startswith("Connection.")] == [
            "Connection.DeletionStarted.v1", "Connection.DeletionStepCompleted.v1",
            "Connection.DeletionStepCompleted.v1", "Connection.DeletionStepCompleted.v1", "Connection.Deleted.v1",
        ]
        assert "DataModelMirror.Cleared.v1" in topics(app, before)
        assert tenant_of(app).connection_counts["shopify"] == 0
        with pytest.raises(ConnectionsError) as erased:
            app.vault.open(connection_id, {"v": 1, "ciphertext": "irrelevant"})
        assert erased.value.reason_code == "secrets_erased"

    def test_deleting_an_established_connection_waits_for_the_clean_up_at_the_marketplace(
        self, app: Connections
    ) -> None:
        connection_id = establish(app)
        run(app, cmd.DisableConnections(connection_ids=[connection_id]))

        result = run(app, cmd.DeleteConnections(connection_ids=[connection_id]))

        assert outcomes(result) == [(Outcome.DONE, None)]
        deleting = connection(app, connection_id)
        assert (deleting.status, deleting.next_deletion_step) == (Status.DELETING, "clean_up_marketplace")
        clean_up = job_of(app, connection_id, JobKind.CLEAN_UP)
        assert clean_up is not None

        assert succeed(app, connection_id, clean_up)

        assert connection(app, connection_id).status is Status.DELETED
        assert app.repository.get(DataModelMirror.id_for(connection_id)).attributes == {}

    def test_a_failed_clean_up_is_resumed_by_deleting_again(self, app: Connections) -> None:
        connection_id = establish(app)
        run(app, cmd.DisableConnections(connection_ids=[connection_id]))
        run(app, cmd.DeleteConnections(connection_ids=[connection_id]))
        clean_up = job_of(app, connection_id, JobKind.CLEAN_UP)
        assert clean_up is not None
        report(app, reports.JobFailed(job_id=clean_up, connection_id=connection_id, error_type="permanent_failure",
                                      retryable=False, message="unexpected answer"))

        again = run(app, cmd.DeleteConnections(connection_ids=[connection_id]))

        assert outcomes(again) == [(Outcome.ALREADY, None)]
        retry = job_of(app, connection_id, JobKind.CLEAN_UP)
        assert retry is not None and retry != clean_up
        assert succeed(app, connection_id, retry)
        assert connection(app, connection_id).status is Status.DELETED

    def test_several_connections_can_be_deleted_at_once(self, app: Connections) -> None:
        first, _ = create(app, "pos", "Till 1")
        second, _ = create(app, "shopify", "Outlet")
        run(app, cmd.DisableConnections(connection_ids=[first, second]))

        result = run(app, cmd.DeleteConnections(connection_ids=[first, second]))

        assert outcomes(result) == [(Outcome.DONE, None), (Outcome.DONE, None)]
        assert connection(app, first).is_deleted and connection(app, second).is_deleted
        assert tenant_of(app).connection_counts == {"pos": 0, "shopify": 0}

    def test_a_deleted_connection_is_gone_and_deleting_it_again_changes_nothing(self, app: Connections) -> None:
        connection_id, _ = create(app, "pos", "Till 1")
        run(app, cmd.DisableConnections(connection_ids=[connection_id]))
        run(app, cmd.DeleteConnections(connection_ids=[connection_id]))
        before = position(app)

        answers = [
            run(app, cmd.DeleteConnections(connection_ids=[connection_id])),
            run(app, cmd.EditConnection(connection_id=connection_id, name="Back")),
            run(app, cmd.EnableConnections(connection_ids=[connection_id])),
            run(app, cmd.RequestSync(connection_ids=[connection_id])),
        ]

        assert [(a.accepted, a.reason_code) for a in answers] == [(False, "not_found")] * 4
        assert position(app) == before

    # ----- worker reports ----------------------------------------------------------------------------

    def test_job_progress_failure_and_time_out_are_recorded(self, app: Connections) -> None:
        connection_id = establish(app, synced=False)
        sync = job_of(app, connection_id, JobKind.SYNC)
        assert sync is not None

        assert report(app, reports.JobStarted(job_id=sync, connection_id=connection_id, worker="w")) is True
        assert report(app, reports.JobProgressed(job_id=sync, connection_id=connection_id, done=3, total=9))
        assert connection(app, connection_id).jobs[str(sync)].done == 3
        assert report(app, reports.JobFailed(job_id=sync, connection_id=connection_id, error_type="permanent_failure",
                                             retryable=False, message="unexpected answer"))
        assert connection(app, connection_id).jobs == {}

        next_sync = run(app, cmd.RequestSync(connection_ids=[connection_id])).items[0].job_id
        assert next_sync is not None
        for attempt in range(1, MAX_JOB_ATTEMPTS + 1):
            assert app.time_out_job(connection_id, next_sync, attempt, meta(actor="watchdog").because("silent"))
        assert connection(app, connection_id).jobs == {}
        assert app.time_out_job(connection_id, next_sync, MAX_JOB_ATTEMPTS, meta(actor="watchdog")) is False

    def test_a_retryable_failure_is_tried_again_and_reports_of_the_old_attempt_change_nothing(
        self, app: Connections
    ) -> None:
        connection_id = establish(app, synced=False)
        sync = job_of(app, connection_id, JobKind.SYNC)
        assert sync is not None
        assert report(app, reports.JobFailed(job_id=sync, connection_id=connection_id, error_type="unavailable",
                                             retryable=True, message="503"))
        assert connection(app, connection_id).jobs[str(sync)].attempt == 2
        before = position(app)

        late = reports.JobSucceeded(job_id=sync, connection_id=connection_id, attempt=1, data_model=MODEL)
        assert report(app, late) is False
        assert position(app) == before

        assert report(app, reports.JobSucceeded(job_id=sync, connection_id=connection_id, attempt=2, data_model=MODEL))
        assert connection(app, connection_id).jobs == {}

    def test_a_large_model_sent_in_chunks_is_reassembled_checked_and_mirrored(self, app: Connections) -> None:
        connection_id = establish(app, synced=False)
        sync = job_of(app, connection_id, JobKind.SYNC)
        assert sync is not None
        large = _large_model(3_000)
        parts = split_model(large, chunk_bytes=50_000)
        assert len(parts) > 3

        for index, part in enumerate(parts):
            report(app, reports.ModelChunk(job_id=sync, connection_id=connection_id, index=index, count=len(parts),
                                           attributes=list(part.attributes), attribute_sets=list(part.attribute_sets)))
        assert report(app, reports.JobSucceeded(job_id=sync, connection_id=connection_id, model_chunks=len(parts),
                                                model_sha256=model_digest(large)))

        mirror = app.repository.get(DataModelMirror.id_for(connection_id))
        assert len(mirror.attributes) == 3_000 and len(mirror.attribute_sets) == 300
        assert connection(app, connection_id).jobs == {}

    @pytest.mark.parametrize("fault", ["missing_chunk", "wrong_hash"])
    def test_a_chunked_model_that_does_not_add_up_fails_the_attempt_and_the_sync_is_tried_again(
        self, app: Connections, fault: str
    ) -> None:
        connection_id = establish(app, synced=False)
        sync = job_of(app, connection_id, JobKind.SYNC)
        assert sync is not None
        large = _large_model(500)
        parts = split_model(large, chunk_bytes=20_000)
        for index, part in enumerate(parts):
            if fault == "missing_chunk" and index == 1:
                continue
            report(app, reports.ModelChunk(job_id=sync, connection_id=connection_id, index=index, count=len(parts),
                                           attributes=list(part.attributes), attribute_sets=list(part.attribute_sets)))
        digest = model_digest(large) if fault == "missing_chunk" else "0" * 64
        assert report(app, reports.JobSucceeded(job_id=sync, connection_id=connection_id, model_chunks=len(parts),
                                                model_sha256=digest))

        assert connection(app, connection_id).jobs[str(sync)].attempt == 2
        assert not _has_mirror(app, connection_id)  # nothing half-mirrored

    def test_repeated_reports_change_nothing(self, app: Connections) -> None:
        connection_id = establish(app, synced=False)
        sync = job_of(app, connection_id, JobKind.SYNC)
        assert sync is not None
        started = reports.JobStarted(job_id=sync, connection_id=connection_id, worker="w")
        progressed = reports.JobProgressed(job_id=sync, connection_id=connection_id, done=1, total=2)
        succeeded = reports.JobSucceeded(job_id=sync, connection_id=connection_id, data_model=MODEL)

        assert [report(app, m) for m in (started, started, progressed, progressed, succeeded)] == [
            True, False, True, False, True,
        ]
        before = position(app)
        assert [report(app, m) for m in (started, progressed, succeeded)] == [False, False, False]
        assert position(app) == before

    def test_reports_for_unknown_jobs_or_connections_change_nothing(self, app: Connections) -> None:
        connection_id = establish(app)
        before = position(app)

        assert report(app, reports.JobSucceeded(job_id=uuid4(), connection_id=connection_id)) is False
        assert report(app, reports.JobStarted(job_id=uuid4(), connection_id=uuid4())) is False
        assert position(app) == before

    # ----- tenants -----------------------------------------------------------------------------------

    @pytest.mark.parametrize(
        "build",
        [
            lambda c: cmd.EditConnection(connection_id=c, name="Mine now"),
            lambda c: cmd.RequestSync(connection_ids=[c]),
            lambda c: cmd.DisableConnections(connection_ids=[c]),
            lambda c: cmd.EnableConnections(connection_ids=[c]),
            lambda c: cmd.DeleteConnections(connection_ids=[c]),
        ],
        ids=["edit", "sync", "disable", "enable", "delete"],
    )
    def test_another_tenants_connections_are_not_found(
        self, app: Connections, build: Callable[[UUID], cmd.Message]
    ) -> None:
        theirs = establish(app, tenant=OTHER_TENANT)
        install(app, "shopware6")
        unknown_id = uuid4()
        before = position(app)

        result = run(app, build(theirs))
        unknown = run(app, build(unknown_id))

        assert (result.accepted, result.reason_code) == (False, "not_found")
        assert (unknown.accepted, unknown.reason_code) == (False, "not_found")
        # Word for word the answer about an id that does not exist: nothing tells that it does.
        assert result.message is not None and unknown.message is not None
        assert result.message.replace(str(theirs), "?") == unknown.message.replace(str(unknown_id), "?")
        assert position(app) == before
        assert connection(app, theirs).name == "Main shop"

    def test_each_tenant_installs_its_own_drivers(self, app: Connections) -> None:
        install(app, "shopware6", tenant=OTHER_TENANT)

        result = run(app, cmd.CreateConnection(name="Main shop", driver="shopware6",
                                               credentials=CREDENTIALS["shopware6"]))

        assert (result.accepted, result.reason_code) == (False, "driver_not_installed")

    # ----- idempotency -------------------------------------------------------------------------------

    @pytest.mark.parametrize("kind", ["create", "edit", "sync", "disable", "delete"])
    def test_a_repeated_command_id_returns_the_first_outcome_and_stores_nothing_new(
        self, app: Connections, kind: str
    ) -> None:
        connection_id = establish(app)
        if kind == "delete":
            run(app, cmd.DisableConnections(connection_ids=[connection_id]))
        command: cmd.Message = {
            "create": cmd.CreateConnection(name="Second", driver="shopware6", credentials=CREDENTIALS["shopware6"]),
            "edit": cmd.EditConnection(connection_id=connection_id, name="Renamed"),
            "sync": cmd.RequestSync(connection_ids=[connection_id]),
            "disable": cmd.DisableConnections(connection_ids=[connection_id]),
            "delete": cmd.DeleteConnections(connection_ids=[connection_id]),
        }[kind]
        command_id = uuid4()

        first = run(app, command, command_id=command_id)
        before = position(app)
        again = run(app, command, command_id=command_id)

        assert first.accepted and outcomes(first)[0][0] is Outcome.DONE
        assert again.model_copy(update={"position": None}) == first.model_copy(update={"position": None})
        assert position(app) == before

    def test_the_same_command_id_sent_concurrently_applies_once_and_answers_the_same(
        self, app: Connections
    ) -> None:
        install(app, "shopware6")
        for round_number in range(5):
            create_command = cmd.CreateConnection(name=f"Shop {round_number}", driver="shopware6",
                                                  credentials=CREDENTIALS["shopware6"])
            created = _concurrently(app, [create_command] * 4, command_ids=[uuid4()] * 4)

            assert all(r.accepted for r in created), [r.reason_code for r in created]
            assert len({(r.items[0].connection_id, r.items[0].job_id) for r in created}) == 1
            connection_id = created[0].items[0].connection_id
            assert connection_id is not None
            disable = cmd.DisableConnections(connection_ids=[connection_id])
            disabled = _concurrently(app, [disable] * 4, command_ids=[uuid4()] * 4)

            assert {tuple(outcomes(r)) for r in disabled} == {((Outcome.DONE, None),)}
        assert topics(app).count("Connection.Created.v1") == 5
        assert topics(app).count("Connection.Disabled.v1") == 5
        assert topics(app).count("ProcessedCommand.Created.v1") == 11  # the install, then two per round

    # ----- concurrency -------------------------------------------------------------------------------

    def test_concurrent_commands_on_one_connection_end_as_some_serial_order(self, app: Connections) -> None:
        serial_orders = _serial_outcomes()
        for _ in range(3):
            connection_id = establish(app)
            commands = _concurrent_commands(connection_id)

            results = _concurrently(app, commands)

            observed = (_signature(app, connection_id), tuple(_answer(r) for r in results))
            assert all(r.reason_code != "conflict" for r in results), results
            assert observed in serial_orders, observed

    # ----- the product page, start to end ------------------------------------------------------------

    def test_the_product_page_walk_through(self, app: Connections) -> None:
        # Prerequisite: at least one driver has been installed.
        install(app, "shopware6", "shopify")

        # Create a connection: "Checking credentials..."
        created = run(app, cmd.CreateConnection(name="Main shop", driver="shopware6",
                                                credentials=CREDENTIALS["shopware6"]))
        main, check = created.items[0].connection_id, created.items[0].job_id
        assert main is not None and check is not None
        assert connection(app, main).credential_state is CredentialState.CHECKING
        assert outcomes(run(app, cmd.RequestSync(connection_ids=[main]))) == [
            (Outcome.REFUSED, "credentials_being_checked"),
        ]

        # The connection is established; the initial sync is triggered ("Sync triggered") and mirrors the model.
        assert succeed(app, main, check)
        assert connection(app, main).established
        initial = job_of(app, main, JobKind.SYNC)
        assert initial is not None
        report(app, reports.JobProgressed(job_id=initial, connection_id=main, done=1, total=2))
        assert succeed(app, main, initial, MODEL)
        assert set(app.repository.get(DataModelMirror.id_for(main)).attributes) == {"color", "size"}

        # Edit: name and settings; the driver is read-only; the sync is triggered again.
        edited = run(app, cmd.EditConnection(connection_id=main, name="Berlin shop",
                                             settings={"default_language": "de-DE"}))
        assert outcomes(edited) == [(Outcome.DONE, None)] and edited.items[0].job_id is not None
        assert run(app, cmd.EditConnection(connection_id=main, driver="shopify")).reason_code == "driver_read_only"
        assert connection(app, main).driver == "shopware6"
        assert succeed(app, main, edited.items[0].job_id)

        # Edit the credentials: checked again, then synced.
        rotated = run(app, cmd.EditConnection(connection_id=main, credentials={"secret_access_key": SECRET_TWO}))
        recheck = rotated.items[0].job_id
        assert recheck is not None and recheck == job_of(app, main, JobKind.CHECK_CREDENTIALS)
        assert succeed(app, main, recheck)
        resync = job_of(app, main, JobKind.SYNC)
        assert resync is not None

        # Synchronize: a sync already running is named, not duplicated; afterwards a new one starts.
        assert run(app, cmd.RequestSync(connection_ids=[main])).items[0].job_id == resync
        assert succeed(app, main, resync, MODEL)
        synced = run(app, cmd.RequestSync(connection_ids=[main]))
        assert outcomes(synced) == [(Outcome.DONE, None)] and synced.items[0].job_id != resync

        # A second connection; disable both at once (the running sync is cancelled), then enable both.
        outlet = establish(app, "shopify", "Outlet")
        disabled = run(app, cmd.DisableConnections(connection_ids=[main, outlet]))
        assert outcomes(disabled) == [(Outcome.DONE, None)] * 2
        assert {connection(app, c).status for c in (main, outlet)} == {Status.INACTIVE}
        assert connection(app, main).jobs == {}
        enabled = run(app, cmd.EnableConnections(connection_ids=[main, outlet]))
        assert outcomes(enabled) == [(Outcome.DONE, None)] * 2

        # Delete: an active connection is refused; disabled, it is deleted step by step and leaves the list.
        refused = run(app, cmd.DeleteConnections(connection_ids=[main]))
        assert (refused.accepted, refused.reason_code) == (False, "connection_active")
        run(app, cmd.DisableConnections(connection_ids=[main]))
        deleting = run(app, cmd.DeleteConnections(connection_ids=[main]))
        assert outcomes(deleting) == [(Outcome.DONE, None)]
        clean_up = job_of(app, main, JobKind.CLEAN_UP)
        assert clean_up is not None and connection(app, main).status is Status.DELETING
        assert succeed(app, main, clean_up)
        assert connection(app, main).status is Status.DELETED
        gone = run(app, cmd.EditConnection(connection_id=main, name="Back"))
        assert gone.reason_code == "not_found"
        assert tenant_of(app).connection_counts == {"shopware6": 0, "shopify": 1}
        steps = [n for n in app.recorder.select_notifications(1, 10_000)
                 if n.originator_id == main and n.topic == "Connection.DeletionStepCompleted.v1"]
        assert [re.search(rb'"step":"(\w+)"', n.state).group(1) for n in steps] == [  # type: ignore[union-attr]
            b"cancel_jobs", b"clean_up_marketplace", b"remove_data_model",
        ]

        # Secrets never reach the store in plaintext, and every stored name is stable and versioned.
        stored = app.recorder.select_notifications(1, 10_000)
        assert stored and not [n.topic for n in stored if MARKER in n.state]
        assert all(re.fullmatch(r"[A-Za-z]+\.[A-Za-z]+\.v\d+", n.topic) for n in stored)


# ----- concurrency helpers -----------------------------------------------------------------------------


def _concurrently(app: Connections, commands: list[cmd.Message], command_ids: list[UUID] | None = None
                  ) -> list[CommandResult]:
    """Run the commands from one thread each, released together; results in the commands' order."""
    ids = command_ids or [uuid4() for _ in commands]
    barrier = threading.Barrier(len(commands))
    results: list[CommandResult | BaseException | None] = [None] * len(commands)

    def send(index: int) -> None:
        try:
            barrier.wait()
            results[index] = app.execute(commands[index], ids[index], meta())
        except BaseException as error:  # noqa: BLE001 - reported below
            results[index] = error

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(commands))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    failures = [r for r in results if not isinstance(r, CommandResult)]
    assert not failures, failures
    return [r for r in results if isinstance(r, CommandResult)]


def _concurrent_commands(connection_id: UUID) -> list[cmd.Message]:
    return [
        cmd.DisableConnections(connection_ids=[connection_id]),
        cmd.EnableConnections(connection_ids=[connection_id]),
        cmd.EditConnection(connection_id=connection_id, name="Renamed"),
        cmd.RequestSync(connection_ids=[connection_id]),
        cmd.EditConnection(connection_id=connection_id, settings={"default_language": "de-DE"}),
    ]


def _signature(app: Connections, connection_id: UUID) -> tuple[Any, ...]:
    c = connection(app, connection_id)
    return (c.status, c.name, c.settings["default_language"], c.credential_state, c.established,
            tuple(sorted(job.kind for job in c.jobs.values())), c.version)


def _answer(result: CommandResult) -> tuple[Any, ...]:
    return (result.accepted, result.reason_code,
            tuple((i.outcome, i.reason_code, i.job_id is not None) for i in result.items))


@functools.cache
def _serial_outcomes() -> frozenset[tuple[Any, ...]]:
    """Every (final state, answers) the concurrent commands may end in: one per serial order."""
    possible = set()
    count = len(_concurrent_commands(uuid4()))
    for order in itertools.permutations(range(count)):
        app = Connections(PydanticCatalog(), InMemoryVault(), env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
        connection_id = establish(app)
        commands = _concurrent_commands(connection_id)
        answers: list[tuple[Any, ...]] = [()] * count
        for index in order:
            answers[index] = _answer(run(app, commands[index]))
        possible.add((_signature(app, connection_id), tuple(answers)))
        app.close()
    return frozenset(possible)


def _large_model(attributes: int) -> DataModel:
    return DataModel(
        attributes=tuple(Attribute(code=f"attr_{i}", labels={"default": f"Attribute {i}"}, type=AttributeType.TEXT)
                         for i in range(attributes)),
        attribute_sets=tuple(AttributeSet(code=f"set_{i}", attribute_codes=tuple(f"attr_{j}" for j in range(i * 10, i * 10 + 10)))
                             for i in range(attributes // 10)),
    )


def _has_mirror(app: Connections, connection_id: UUID) -> bool:
    mirror_id = DataModelMirror.id_for(connection_id)
    return any(n.originator_id == mirror_id for n in app.recorder.select_notifications(1, 100_000))


class BatchSuite:
    """Several commands stored in one transaction behave as if they had run one by one."""

    @pytest.fixture
    def make_app(self) -> Iterator[MakeApp]:
        raise NotImplementedError

    @pytest.fixture
    def app(self, make_app: MakeApp) -> Connections:
        return make_app()

    def test_a_batch_stores_all_its_commands_in_one_transaction_and_each_sees_the_ones_before(
        self, app: Connections
    ) -> None:
        create_id = uuid4()
        before = position(app)
        results = app.execute_batch([
            (cmd.InstallDriver(driver="pos"), uuid4(), meta()),
            (cmd.CreateConnection(name="Till", driver="pos"), create_id, meta()),
        ])
        assert [r.accepted for r in results] == [True, True]
        connection_id = results[1].items[0].connection_id
        assert connection_id is not None
        assert results[0].position == results[1].position == position(app)
        assert connection(app, connection_id).name == "Till"
        assert "Tenant.DriverInstalled.v1" in topics(app, before)

        follow_up = app.execute_batch([
            (cmd.DisableConnections(connection_ids=[connection_id]), uuid4(), meta()),
            (cmd.DeleteConnections(connection_ids=[connection_id]), uuid4(), meta()),
            (cmd.UninstallDriver(driver="pos"), uuid4(), meta()),
        ])
        assert [r.accepted for r in follow_up] == [True, True, True]
        assert connection(app, connection_id).status is Status.DELETED
        assert tenant_drivers(app, TENANT) == {}

    def test_a_refused_command_in_a_batch_leaves_no_trace_and_the_others_go_on(self, app: Connections) -> None:
        install(app, "pos")
        before = position(app)
        results = app.execute_batch([
            (cmd.CreateConnection(name="Till 1", driver="pos"), uuid4(), meta()),
            (cmd.UninstallDriver(driver="pos"), uuid4(), meta()),  # refused: the driver is in use now
            (cmd.CreateConnection(name="Bad", driver="shopware6", credentials={"url": "nope"}), uuid4(), meta()),
            (cmd.CreateConnection(name="Till 2", driver="pos"), uuid4(), meta()),
        ])
        assert [(r.accepted, r.reason_code) for r in results] == [
            (True, None), (False, "driver_in_use"), (False, "driver_not_installed"), (True, None),
        ]
        stored = topics(app, before)
        assert stored.count("Connection.Created.v1") == 2
        assert "Tenant.DriverUninstalled.v1" not in stored
        assert tenant_of(app).connection_counts == {"pos": 2}

    def test_a_command_repeated_within_and_across_batches_applies_once(self, app: Connections) -> None:
        install(app, "pos")
        command_id = uuid4()
        create = cmd.CreateConnection(name="Till", driver="pos")
        first = app.execute_batch([(create, command_id, meta()), (create, command_id, meta())])
        again = app.execute_batch([(create, command_id, meta())])
        assert first[0].items == first[1].items == again[0].items
        assert tenant_of(app).connection_counts == {"pos": 1}

    def test_a_batch_whose_new_data_key_another_writer_stored_first_runs_again_one_by_one(
        self, make_app: MakeApp
    ) -> None:
        connection_id, credentials = uuid4(), CREDENTIALS["shopware6"]

        def other_writer() -> None:  # another thread, outside the batch: its key is stored at once
            thread = threading.Thread(target=lambda: app.vault.seal(connection_id, {"other": "writer"}))
            thread.start()
            thread.join()

        app = make_app(catalog=_MeddlingCatalog(other_writer))
        install(app, "shopware6", "pos")
        results = app.execute_batch([
            (cmd.CreateConnection(name="Shop", driver="shopware6", credentials=credentials,
                                  connection_id=connection_id), uuid4(), meta()),
            (cmd.CreateConnection(name="Till", driver="pos"), uuid4(), meta()),
        ])

        # The key made in the batch lost: the commands ran again and sealed with the stored key instead.
        assert [r.accepted for r in results] == [True, True]
        stored = connection(app, connection_id)
        assert app.vault.open(connection_id, stored.credentials)["secret_access_key"] == SECRET
        till = results[1].items[0].connection_id
        assert till is not None and app.vault.open(till, connection(app, till).credentials) == {}

    def test_the_tenant_is_snapshotted_from_memory_and_a_cold_load_matches_its_events(
        self, app: Connections, make_app: MakeApp
    ) -> None:
        install(app, "pos")
        every = app.snapshot_every[Tenant]
        for _ in range(2):
            results = app.execute_batch([(cmd.CreateConnection(name=f"Till {uuid4()}", driver="pos"), uuid4(), meta())
                                         for _ in range(every // 2 + 1)])
            assert all(r.accepted for r in results)
        tenant_id = Tenant.id_for(TENANT)
        assert app.snapshots is not None
        snapshots = list(app.snapshots.get(tenant_id))
        created = 2 * (every // 2 + 1)
        assert [s.originator_version for s in snapshots] == [created + 2]  # the save that passed `every` events
        cold = make_app().repository.get(tenant_id)  # another process: from the snapshot and the events after it
        replayed = project_aggregate(None, app.events.get(tenant_id))
        assert isinstance(cold, Tenant) and isinstance(replayed, Tenant)
        assert (cold.version, cold.drivers, cold.connection_counts) == (
            replayed.version, replayed.drivers, replayed.connection_counts) == (
            created + 2, {"pos": replayed.drivers["pos"]}, {"pos": created})

    def test_changes_of_a_command_refused_halfway_are_undone_before_the_next_command_of_the_batch(
        self, make_app: MakeApp
    ) -> None:
        app = make_app(catalog=_CleanupDownCatalog("pos"))
        till, _ = create(app, "pos", "Till")
        shop, _ = create(app, "shopware6", "Shop")
        assert run(app, cmd.DisableConnections(connection_ids=[till, shop])).accepted
        before = position(app)

        results = app.execute_batch([
            # The till's deletion starts, then its clean-up check fails: that item is refused, the shop's done.
            (cmd.DeleteConnections(connection_ids=[till, shop]), uuid4(), meta()),
            # Refused as a whole after it changed the till: nothing of it may remain either.
            (cmd.DeleteConnections(connection_ids=[till]), uuid4(), meta()),
            (cmd.EnableConnections(connection_ids=[till]), uuid4(), meta()),
            (cmd.EditConnection(connection_id=till, name="Till (front)"), uuid4(), meta()),
        ])

        # As if run one by one: the half-started deletions are never stored, so the till can be enabled.
        assert [r.accepted for r in results] == [True, False, True, True]
        assert outcomes(results[0]) == [(Outcome.REFUSED, "cleanup_down"), (Outcome.DONE, None)]
        assert results[1].reason_code == "cleanup_down"
        assert outcomes(results[2]) == [(Outcome.DONE, None)]
        final = connection(app, till)
        assert (final.name, final.status) == ("Till (front)", Status.ACTIVE)
        stored = [n for n in app.recorder.select_notifications(before + 1, 10_000)]
        assert not [n for n in stored if n.originator_id == till and "Deletion" in n.topic]
        assert connection(app, shop).status is Status.DELETED

    def test_a_batch_that_conflicts_with_another_writer_runs_again_one_by_one(
        self, app: Connections, make_app: MakeApp
    ) -> None:
        install(app, "pos")
        connection_id, _ = create(app, "pos", "Till")
        other = make_app()  # a second process on the same store
        meddling = make_app(catalog=_MeddlingCatalog(lambda: run(
            other, cmd.DisableConnections(connection_ids=[connection_id]))))

        results = meddling.execute_batch([
            (cmd.EditConnection(connection_id=connection_id, name="Till (front)", settings={}), uuid4(), meta()),
            (cmd.EnableConnections(connection_ids=[connection_id]), uuid4(), meta()),
        ])

        # The other writer's disable came between the batch's reads and its save: the batch ran again one by
        # one, after the disable, so enabling found the connection inactive and did enable it.
        assert [r.accepted for r in results] == [True, True]
        assert outcomes(results[1]) == [(Outcome.DONE, None)]
        final = connection(app, connection_id)
        assert (final.name, final.status) == ("Till (front)", Status.ACTIVE)
        assert topics(app).count("Connection.Disabled.v1") == 1


class _CleanupDownCatalog(PydanticCatalog):
    """The real catalog, except that asking whether ``driver`` needs a clean-up fails (a refusal)."""

    def __init__(self, driver: str) -> None:
        self._driver = driver

    def needs_cleanup(self, driver: str) -> bool:
        if driver == self._driver:
            raise ConnectionsError("the clean-up registry is down", "cleanup_down")
        return super().needs_cleanup(driver)


class _MeddlingCatalog(PydanticCatalog):
    """The real catalog, except that the first settings check lets another writer change the store."""

    def __init__(self, meddle: Callable[[], object]) -> None:
        self._meddle: Callable[[], object] | None = meddle

    def validate_settings(self, driver: str, data: dict[str, Any]) -> dict[str, Any]:
        if self._meddle is not None:
            meddle, self._meddle = self._meddle, None
            meddle()
        return super().validate_settings(driver, data)
