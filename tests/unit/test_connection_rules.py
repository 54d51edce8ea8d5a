"""Every rule of the write side, on the aggregates: given past events / when a command / then new events.

"Given" is a list of past events, produced by the aggregate's own methods and replayed into a fresh
aggregate (so each test also proves the state is rebuilt from events alone). "Then" is the list of events
the command added, read with ``collect_events()``; :func:`then` also checks that replaying the whole
history reproduces exactly the live state.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID, uuid4

import pytest
from eventsourcing.domain import Aggregate, CanMutateAggregate

from services.connections.domain.connection import (
    DELETION_STEPS,
    HEARTBEAT_RECORD_SECONDS,
    MAX_JOB_ATTEMPTS,
    Connection,
    CredentialState,
    Status,
)
from services.connections.domain.errors import NotFound, RuleViolated
from services.connections.domain.jobs import JobKind, JobState
from services.connections.domain.meta import Meta
from services.connections.domain.mirror import DataModelMirror
from services.connections.domain.tenant import Tenant

A = TypeVar("A", bound=Aggregate)
Step = Callable[[Any], object]
Past = CanMutateAggregate[UUID]

META = Meta(tenant_id="tenant-a", actor="alice", correlation_id="corr-1")


def now() -> datetime:
    return datetime.now(UTC)
SEALED = {"v": 1, "ciphertext": "c2VhbGVkLW9uZQ=="}
SEALED_NEW = {"v": 1, "ciphertext": "c2VhbGVkLXR3bw=="}
SETTINGS = {"default_language": "en-GB", "tax_class_mapping": {}, "order_import_states": ["open"]}

CHECK, SYNC, SYNC_2, CLEAN_UP = "check-1", "sync-1", "sync-2", "clean-up-1"

_histories: dict[UUID, list[Past]] = {}


# ----- given / then ------------------------------------------------------------------------------------


def replay(events: list[Past]) -> Any:
    aggregate: Any = None
    for domain_event in events:
        aggregate = domain_event.mutate(aggregate)
    assert aggregate is not None
    return aggregate


def given(past: list[Past]) -> Any:
    """The aggregate rebuilt from ``past`` events only, with nothing pending."""
    aggregate = replay(past)
    _histories[aggregate.id] = list(past)
    return aggregate


def then(aggregate: A) -> list[Any]:
    """The events the command added; replaying the whole history must give the same state."""
    new = list(aggregate.collect_events())
    rebuilt = replay(_histories.get(aggregate.id, []) + new)
    assert vars(rebuilt) == vars(aggregate), "state changed outside of an event"
    _histories[aggregate.id] = _histories.get(aggregate.id, []) + new
    return new


def names(events: list[Any]) -> list[str]:
    return [type(e).__name__ for e in events]


def history(*steps: Step, driver: str = "shopware6") -> list[Past]:
    """Past events of a connection: created (with its credential check ``check-1``), then ``steps``."""
    connection = Connection(
        id=uuid4(), tenant_id=META.tenant_id, name="Main shop", driver=driver, credentials=SEALED,
        credentials_fingerprint="fp-1", settings=dict(SETTINGS), meta=META.as_dict(),
    )
    connection.request_credential_check(CHECK, META)
    for step in steps:
        step(connection)
    return list(connection.collect_events())


# Steps that make up histories, named after what happened.
def check_succeeded(job_id: str = CHECK) -> Step:
    return lambda c: c.record_succeeded(job_id, META)


def check_rejected(job_id: str = CHECK) -> Step:
    return lambda c: c.record_failed(job_id, "credentials_rejected", False, "401 Unauthorized", META)


def sync_requested(job_id: str = SYNC) -> Step:
    return lambda c: c.request_sync(job_id, META)


def job_started(job_id: str) -> Step:
    return lambda c: c.record_started(job_id, "worker-1", META)


def job_succeeded(job_id: str) -> Step:
    return lambda c: c.record_succeeded(job_id, META)


def check_requested(job_id: str) -> Step:
    return lambda c: c.request_credential_check(job_id, META)


def credentials_edited() -> Step:
    def step(c: Connection) -> None:
        c.edit(name=None, driver=None, credentials=SEALED_NEW, credentials_fingerprint="fp-2", settings=None,
               meta=META)
    return step


def disabled() -> Step:
    return lambda c: c.disable(META)


def enabled() -> Step:
    return lambda c: c.enable(META)


def deletion_started() -> Step:
    return lambda c: c.start_deletion(META)


def step_completed(step: str) -> Step:
    return lambda c: c.complete_deletion_step(step, META)


ESTABLISHED = (check_succeeded(),)
SYNCING = (*ESTABLISHED, sync_requested(), job_started(SYNC))
DELETED = (*ESTABLISHED, disabled(), deletion_started(), *(step_completed(s) for s in DELETION_STEPS))


def refusal(action: Callable[[], object]) -> str:
    with pytest.raises(RuleViolated) as refused:
        action()
    return refused.value.reason_code


# ----- create ------------------------------------------------------------------------------------------


def test_a_new_connection_is_active_and_its_credentials_are_being_checked() -> None:
    connection = Connection(
        id=uuid4(), tenant_id="tenant-a", name="Main shop", driver="shopware6", credentials=SEALED,
        credentials_fingerprint="fp-1", settings=SETTINGS, meta=META.as_dict(),
    )
    connection.request_credential_check(CHECK, META)

    new = then(connection)
    assert names(new) == ["Created", "JobRequested"]
    assert (new[0].name, new[0].driver, new[0].credentials) == ("Main shop", "shopware6", SEALED)
    assert (new[1].job_id, new[1].kind) == (CHECK, JobKind.CHECK_CREDENTIALS)
    assert connection.status is Status.ACTIVE
    assert connection.credential_state is CredentialState.CHECKING
    assert connection.established is False


def test_the_created_event_keeps_who_created_it() -> None:
    connection = given(history())
    assert connection.tenant_id == "tenant-a"
    created: Any = _histories[connection.id][0]
    assert created.meta == META.as_dict()


# ----- credential check --------------------------------------------------------------------------------


def test_a_succeeded_credential_check_establishes_the_connection() -> None:
    connection = given(history())

    connection.record_succeeded(CHECK, META)

    new = then(connection)
    assert names(new) == ["JobEnded"]
    assert (new[0].kind, new[0].state) == (JobKind.CHECK_CREDENTIALS, JobState.SUCCEEDED)
    assert connection.established is True
    assert connection.credential_state is CredentialState.VERIFIED
    assert connection.jobs == {}


def test_rejected_credentials_leave_the_connection_not_established_and_keep_the_reason() -> None:
    connection = given(history())

    connection.record_failed(CHECK, "credentials_rejected", False, "401 Unauthorized", META)

    new = then(connection)
    assert names(new) == ["JobEnded"]
    assert (new[0].state, new[0].error_type, new[0].retryable, new[0].message) == (
        JobState.FAILED, "credentials_rejected", False, "401 Unauthorized",
    )
    assert connection.established is False
    assert connection.credential_state is CredentialState.REJECTED


def test_a_check_that_failed_for_another_reason_does_not_establish_the_connection() -> None:
    connection = given(history())

    connection.record_failed(CHECK, "permanent_failure", False, "unexpected answer", META)

    assert names(then(connection)) == ["JobEnded"]
    assert connection.established is False
    assert connection.credential_state is CredentialState.CHECK_FAILED


def test_a_new_credential_check_replaces_the_check_still_pending() -> None:
    connection = given(history())

    connection.request_credential_check("check-2", META)

    new = then(connection)
    assert names(new) == ["JobEnded", "JobRequested"]
    assert (new[0].job_id, new[0].state) == (CHECK, JobState.CANCELLED)
    assert (new[1].job_id, new[1].kind) == ("check-2", JobKind.CHECK_CREDENTIALS)
    assert list(connection.jobs) == ["check-2"]


# ----- edit --------------------------------------------------------------------------------------------


def test_the_driver_of_a_connection_is_read_only() -> None:
    connection = given(history(*ESTABLISHED))

    reason = refusal(lambda: connection.edit(
        name="Renamed", driver="shopify", credentials=None, credentials_fingerprint=None, settings=None, meta=META,
    ))

    assert reason == "driver_read_only"
    assert then(connection) == []
    assert connection.driver == "shopware6"


def test_naming_the_same_driver_on_edit_is_not_a_change() -> None:
    connection = given(history(*ESTABLISHED))

    changed = connection.edit(name="Renamed", driver="shopware6", credentials=None, credentials_fingerprint=None,
                              settings=None, meta=META)

    assert changed == ["name"]
    new = then(connection)
    assert names(new) == ["Edited"]
    assert connection.driver == "shopware6"


def test_editing_name_and_settings_records_only_what_changed() -> None:
    connection = given(history(*ESTABLISHED))
    new_settings = {**SETTINGS, "default_language": "de-DE"}

    changed = connection.edit(name="Renamed", driver=None, credentials=None, credentials_fingerprint=None,
                              settings=new_settings, meta=META)

    assert changed == ["name", "settings"]
    new = then(connection)
    assert names(new) == ["Edited"]
    assert (new[0].name, new[0].settings, new[0].credentials, new[0].credentials_fingerprint) == (
        "Renamed", new_settings, None, None,
    )
    assert (connection.name, connection.settings) == ("Renamed", new_settings)


def test_changed_credentials_are_recorded_sealed_and_checked_again() -> None:
    connection = given(history(*SYNCING))

    changed = connection.edit(name=None, driver=None, credentials=SEALED_NEW, credentials_fingerprint="fp-2",
                              settings=None, meta=META)
    connection.request_credential_check("check-2", META)

    assert changed == ["credentials"]
    new = then(connection)
    assert names(new) == ["Edited", "JobEnded", "JobRequested"]
    assert (new[0].credentials, new[0].credentials_fingerprint, new[0].name) == (SEALED_NEW, "fp-2", None)
    assert (new[1].job_id, new[1].state) == (SYNC, JobState.CANCELLED)  # no sync on unchecked credentials
    assert (new[2].kind, connection.credential_state) == (JobKind.CHECK_CREDENTIALS, CredentialState.CHECKING)
    assert connection.credentials == SEALED_NEW


def test_editing_without_changes_records_no_event() -> None:
    connection = given(history(*ESTABLISHED))

    changed = connection.edit(name="Main shop", driver="shopware6", credentials=SEALED,
                              credentials_fingerprint="fp-1", settings=dict(SETTINGS), meta=META)

    assert changed == []
    assert then(connection) == []


def test_a_connection_being_deleted_cannot_be_edited() -> None:
    connection = given(history(*ESTABLISHED, disabled(), deletion_started()))

    reason = refusal(lambda: connection.edit(
        name="Renamed", driver=None, credentials=None, credentials_fingerprint=None, settings=None, meta=META,
    ))

    assert reason == "connection_being_deleted"
    assert then(connection) == []


# ----- synchronize -------------------------------------------------------------------------------------


def test_an_established_active_connection_can_be_synchronized() -> None:
    connection = given(history(*ESTABLISHED))

    job_id, created = connection.request_sync(SYNC, META)

    assert (job_id, created) == (SYNC, True)
    new = then(connection)
    assert names(new) == ["JobRequested"]
    assert (new[0].job_id, new[0].kind) == (SYNC, JobKind.SYNC)


def test_only_active_connections_can_be_synchronized() -> None:
    connection = given(history(*ESTABLISHED, disabled()))

    assert refusal(lambda: connection.request_sync(SYNC, META)) == "connection_inactive"
    assert then(connection) == []


def test_a_connection_whose_credentials_are_being_checked_cannot_be_synchronized() -> None:
    connection = given(history())

    assert refusal(lambda: connection.request_sync(SYNC, META)) == "credentials_being_checked"
    assert then(connection) == []


def test_a_connection_with_rejected_credentials_is_not_established_and_cannot_be_synchronized() -> None:
    connection = given(history(check_rejected()))

    assert refusal(lambda: connection.request_sync(SYNC, META)) == "not_established"
    assert then(connection) == []


def test_an_established_connection_whose_new_credentials_are_being_checked_cannot_be_synchronized() -> None:
    connection = given(history(*ESTABLISHED, credentials_edited(), check_requested("check-2")))

    assert refusal(lambda: connection.request_sync(SYNC, META)) == "credentials_being_checked"
    assert then(connection) == []


def test_a_running_sync_is_not_duplicated_and_its_job_id_is_returned() -> None:
    connection = given(history(*SYNCING))

    job_id, created = connection.request_sync(SYNC_2, META)

    assert (job_id, created) == (SYNC, False)
    assert then(connection) == []


def test_a_requested_sync_not_yet_started_is_not_duplicated_either() -> None:
    connection = given(history(*ESTABLISHED, sync_requested()))

    assert connection.request_sync(SYNC_2, META) == (SYNC, False)
    assert then(connection) == []


def test_a_new_sync_can_start_once_the_last_one_ended() -> None:
    connection = given(history(*SYNCING, job_succeeded(SYNC)))

    assert connection.request_sync(SYNC_2, META) == (SYNC_2, True)
    assert names(then(connection)) == ["JobRequested"]
    assert connection.last_sync_job == SYNC


# ----- disable / enable --------------------------------------------------------------------------------


def test_disabling_an_active_connection_makes_it_inactive() -> None:
    connection = given(history(*ESTABLISHED))

    assert connection.disable(META) is True

    assert names(then(connection)) == ["Disabled"]
    assert connection.status is Status.INACTIVE


def test_disabling_an_inactive_connection_changes_nothing() -> None:
    connection = given(history(*ESTABLISHED, disabled()))

    assert connection.disable(META) is False
    assert then(connection) == []


@pytest.mark.parametrize("running", [False, True], ids=["pending", "running"])
def test_disabling_cancels_pending_and_running_jobs(running: bool) -> None:
    steps = (*ESTABLISHED, sync_requested(), *((job_started(SYNC),) if running else ()))
    connection = given(history(*steps))

    connection.disable(META)

    new = then(connection)
    assert names(new) == ["JobEnded", "Disabled"]
    assert (new[0].job_id, new[0].state, new[0].message) == (SYNC, JobState.CANCELLED, "connection disabled")
    assert connection.jobs == {}


def test_disabling_cancels_a_pending_credential_check_without_judging_the_credentials() -> None:
    connection = given(history())

    connection.disable(META)

    new = then(connection)
    assert names(new) == ["JobEnded", "Disabled"]
    assert (new[0].kind, new[0].state) == (JobKind.CHECK_CREDENTIALS, JobState.CANCELLED)
    assert connection.established is False


@pytest.mark.parametrize(
    "report",
    [
        lambda c: c.record_started(SYNC, "worker-1", META),
        lambda c: c.record_progress(SYNC, 5, 10, now(), META),
        lambda c: c.record_succeeded(SYNC, META),
        lambda c: c.record_failed(SYNC, "timeout", True, "too slow", META),
        lambda c: c.time_out(SYNC, META),
    ],
    ids=["started", "progressed", "succeeded", "failed", "timed_out"],
)
def test_late_reports_for_cancelled_jobs_change_nothing(report: Step) -> None:
    connection = given(history(*SYNCING, disabled()))

    assert report(connection) in (False, None)
    assert then(connection) == []


def test_enabling_an_inactive_connection_makes_it_active() -> None:
    connection = given(history(*ESTABLISHED, disabled()))

    assert connection.enable(META) is True

    assert names(then(connection)) == ["Enabled"]
    assert connection.status is Status.ACTIVE


def test_enabling_an_active_connection_changes_nothing() -> None:
    connection = given(history(*ESTABLISHED))

    assert connection.enable(META) is False
    assert then(connection) == []


@pytest.mark.parametrize("action", ["disable", "enable"])
def test_a_connection_being_deleted_cannot_be_disabled_or_enabled(action: str) -> None:
    connection = given(history(*ESTABLISHED, disabled(), deletion_started()))

    assert refusal(lambda: getattr(connection, action)(META)) == "connection_being_deleted"
    assert then(connection) == []


# ----- delete ------------------------------------------------------------------------------------------


def test_only_inactive_connections_can_be_deleted() -> None:
    connection = given(history(*ESTABLISHED))

    assert refusal(lambda: connection.start_deletion(META)) == "connection_active"
    assert then(connection) == []
    assert connection.status is Status.ACTIVE


def test_deleting_an_inactive_connection_runs_its_steps_in_order_then_it_is_deleted() -> None:
    connection = given(history(*ESTABLISHED, disabled()))

    assert connection.start_deletion(META) is True
    assert connection.status is Status.DELETING
    for step in DELETION_STEPS:
        assert connection.next_deletion_step == step
        assert connection.complete_deletion_step(step, META) is True

    new = then(connection)
    assert names(new) == [
        "DeletionStarted", "DeletionStepCompleted", "DeletionStepCompleted", "DeletionStepCompleted", "Deleted",
    ]
    assert new[0].steps == ["cancel_jobs", "clean_up_marketplace", "remove_data_model"]
    assert [(e.step, e.number, e.of) for e in new[1:4]] == [
        ("cancel_jobs", 1, 3), ("clean_up_marketplace", 2, 3), ("remove_data_model", 3, 3),
    ]
    assert connection.status is Status.DELETED
    assert connection.is_deleted
    assert connection.credentials == {}  # the sealed form is dropped; the vault shreds the key
    assert connection.next_deletion_step is None


def test_deletion_steps_cannot_be_skipped_or_repeated() -> None:
    connection = given(history(*ESTABLISHED, disabled(), deletion_started(), step_completed("cancel_jobs")))

    assert connection.complete_deletion_step("remove_data_model", META) is False  # skipped
    assert connection.complete_deletion_step("cancel_jobs", META) is False  # repeated
    assert then(connection) == []
    assert connection.next_deletion_step == "clean_up_marketplace"


def test_the_cancel_jobs_step_cancels_jobs_still_pending() -> None:
    # Credentials edited while inactive start a check; deleting the connection must not leave it pending.
    connection = given(history(*ESTABLISHED, disabled(), credentials_edited(), check_requested("check-2"),
                               deletion_started()))

    connection.complete_deletion_step("cancel_jobs", META)

    new = then(connection)
    assert names(new) == ["JobEnded", "DeletionStepCompleted"]
    assert (new[0].job_id, new[0].state) == ("check-2", JobState.CANCELLED)
    assert connection.jobs == {}


def test_the_clean_up_at_the_marketplace_is_a_job_the_deletion_waits_for() -> None:
    connection = given(history(*ESTABLISHED, disabled(), deletion_started(), step_completed("cancel_jobs")))

    connection.request_clean_up(CLEAN_UP, META)
    connection.record_succeeded(CLEAN_UP, META)
    connection.complete_deletion_step("clean_up_marketplace", META)

    new = then(connection)
    assert names(new) == ["JobRequested", "JobEnded", "DeletionStepCompleted"]
    assert (new[0].kind, new[1].state) == (JobKind.CLEAN_UP, JobState.SUCCEEDED)
    assert connection.next_deletion_step == "remove_data_model"


@pytest.mark.parametrize("past", ["deleting", "deleted"])
def test_a_repeated_delete_is_a_no_op(past: str) -> None:
    steps = (*ESTABLISHED, disabled(), deletion_started()) if past == "deleting" else DELETED
    connection = given(history(*steps))

    assert connection.start_deletion(META) is False
    assert then(connection) == []


# ----- jobs --------------------------------------------------------------------------------------------


def test_a_started_job_is_running_on_the_named_worker() -> None:
    connection = given(history(*ESTABLISHED, sync_requested()))

    assert connection.record_started(SYNC, "worker-7", META) is True

    new = then(connection)
    assert names(new) == ["JobStarted"]
    assert (new[0].job_id, new[0].kind, new[0].worker) == (SYNC, JobKind.SYNC, "worker-7")
    assert connection.jobs[SYNC].state is JobState.RUNNING


def test_progress_of_a_job_is_recorded() -> None:
    connection = given(history(*SYNCING))

    assert connection.record_progress(SYNC, 40, 100, now(), META) is True

    new = then(connection)
    assert names(new) == ["JobProgressed"]
    assert (new[0].done, new[0].total) == (40, 100)
    assert (connection.jobs[SYNC].done, connection.jobs[SYNC].total) == (40, 100)


def test_a_succeeded_sync_ends_and_becomes_the_last_sync() -> None:
    connection = given(history(*SYNCING))

    assert connection.record_succeeded(SYNC, META) is not None

    new = then(connection)
    assert names(new) == ["JobEnded"]
    assert new[0].state is JobState.SUCCEEDED
    assert connection.jobs == {}
    assert connection.last_sync_job == SYNC


def test_a_failed_job_records_its_error_type_retryability_and_message() -> None:
    connection = given(history(*SYNCING))

    connection.record_failed(SYNC, "permanent_failure", False, "unexpected answer", META)

    new = then(connection)
    assert names(new) == ["JobEnded"]
    assert (new[0].state, new[0].error_type, new[0].retryable, new[0].message) == (
        JobState.FAILED, "permanent_failure", False, "unexpected answer",
    )
    assert connection.jobs == {}


def test_a_retryable_failure_is_tried_again_until_the_attempts_are_used_up() -> None:
    connection = given(history(*SYNCING))

    for attempt in range(2, MAX_JOB_ATTEMPTS + 1):
        connection.record_failed(SYNC, "rate_limited", True, "429 Too Many Requests", META)
        new = then(connection)
        assert names(new) == ["JobRetried"]
        assert (new[0].attempt, new[0].error_type, new[0].message) == (attempt, "rate_limited", "429 Too Many Requests")
        assert connection.jobs[SYNC].attempt == attempt
        assert connection.is_current_attempt(SYNC, attempt) and not connection.is_current_attempt(SYNC, attempt - 1)

    connection.record_failed(SYNC, "rate_limited", True, "429 Too Many Requests", META)
    new = then(connection)
    assert names(new) == ["JobEnded"]
    assert (new[0].state, new[0].error_type, new[0].retryable) == (JobState.FAILED, "rate_limited", True)
    assert connection.jobs == {}


def test_a_job_that_stopped_reporting_is_tried_again_then_times_out_as_retryable() -> None:
    connection = given(history(*SYNCING))

    for _ in range(MAX_JOB_ATTEMPTS - 1):
        connection.time_out(SYNC, META.because("no report for 15 minutes"))
        assert names(then(connection)) == ["JobRetried"]
    connection.time_out(SYNC, META.because("no report for 15 minutes"))

    new = then(connection)
    assert names(new) == ["JobEnded"]
    assert (new[0].state, new[0].error_type, new[0].retryable, new[0].message) == (
        JobState.TIMED_OUT, "timed_out", True, "no report for 15 minutes",
    )


def test_unchanged_progress_is_recorded_only_as_an_occasional_heartbeat() -> None:
    connection = given(history(*SYNCING))
    connection.record_progress(SYNC, 3, 9, now(), META)
    then(connection)

    assert connection.record_progress(SYNC, 3, 9, now(), META) is False
    later = now() + timedelta(seconds=HEARTBEAT_RECORD_SECONDS + 1)
    assert connection.record_progress(SYNC, 3, 9, later, META) is True
    assert names(then(connection)) == ["JobProgressed"]


@pytest.mark.parametrize(
    ("past", "report"),
    [
        ((*SYNCING,), lambda c: c.record_started(SYNC, "worker-1", META)),
        ((*SYNCING, lambda c: c.record_progress(SYNC, 3, 9, now(), META)), lambda c: c.record_progress(SYNC, 3, 9, now(), META)),
        ((*SYNCING, job_succeeded(SYNC)), lambda c: c.record_succeeded(SYNC, META)),
        ((*SYNCING, job_succeeded(SYNC)), lambda c: c.record_failed(SYNC, "x", False, "late", META)),
    ],
    ids=["started_twice", "same_progress_twice", "succeeded_twice", "failed_after_success"],
)
def test_repeated_reports_are_ignored(past: tuple[Step, ...], report: Step) -> None:
    connection = given(history(*past))

    assert report(connection) in (False, None)
    assert then(connection) == []


@pytest.mark.parametrize(
    "report",
    [
        lambda c: c.record_started("no-such-job", "w", META),
        lambda c: c.record_progress("no-such-job", 1, 2, now(), META),
        lambda c: c.record_succeeded("no-such-job", META),
        lambda c: c.record_failed("no-such-job", "x", False, "m", META),
        lambda c: c.time_out("no-such-job", META),
    ],
    ids=["started", "progressed", "succeeded", "failed", "timed_out"],
)
def test_reports_for_unknown_jobs_are_ignored(report: Step) -> None:
    connection = given(history(*SYNCING))

    assert report(connection) in (False, None)
    assert then(connection) == []


# ----- tenant ------------------------------------------------------------------------------------------


def tenant_history(*steps: Step) -> list[Past]:
    tenant = Tenant(id=Tenant.id_for("tenant-a"), tenant_id="tenant-a", meta=META.as_dict())
    for step in steps:
        step(tenant)
    return list(tenant.collect_events())


def installed(driver: str) -> Step:
    return lambda t: t.install(driver, "1.0.0", META.as_dict())


CONNECTION_ID = UUID("00000000-0000-4000-8000-000000000001")


def connection_added(driver: str, connection_id: UUID = CONNECTION_ID) -> Step:
    return lambda t: t.add_connection(driver, connection_id, META.as_dict())


def test_installing_a_driver_makes_it_available_to_the_tenant() -> None:
    tenant = given(tenant_history())

    assert tenant.install("shopware6", "1.0.0", META.as_dict()) is True

    new = then(tenant)
    assert names(new) == ["DriverInstalled"]
    assert (new[0].driver, new[0].version) == ("shopware6", "1.0.0")
    assert tenant.drivers == {"shopware6": "1.0.0"}


def test_installing_an_installed_driver_changes_nothing() -> None:
    tenant = given(tenant_history(installed("shopware6")))

    assert tenant.install("shopware6", "1.0.0", META.as_dict()) is False
    assert then(tenant) == []


def test_uninstalling_an_unused_driver_removes_it() -> None:
    tenant = given(tenant_history(installed("shopware6")))

    assert tenant.uninstall("shopware6", META.as_dict()) is True

    assert names(then(tenant)) == ["DriverUninstalled"]
    assert tenant.drivers == {}


def test_uninstalling_a_driver_that_is_not_installed_changes_nothing() -> None:
    tenant = given(tenant_history())

    assert tenant.uninstall("shopware6", META.as_dict()) is False
    assert then(tenant) == []


def test_a_driver_cannot_be_uninstalled_while_connections_use_it() -> None:
    tenant = given(tenant_history(installed("shopware6"), connection_added("shopware6")))

    assert refusal(lambda: tenant.uninstall("shopware6", META.as_dict())) == "driver_in_use"
    assert then(tenant) == []
    assert "shopware6" in tenant.drivers


def test_a_driver_can_be_uninstalled_once_its_connections_are_removed() -> None:
    tenant = given(tenant_history(installed("shopware6"), connection_added("shopware6")))

    tenant.remove_connection("shopware6", CONNECTION_ID, META.as_dict())
    tenant.remove_connection("shopware6", CONNECTION_ID, META.as_dict())  # a second removal changes nothing
    assert tenant.uninstall("shopware6", META.as_dict()) is True

    assert names(then(tenant)) == ["ConnectionRemoved", "DriverUninstalled"]


def test_creating_a_connection_needs_the_driver_installed() -> None:
    tenant = given(tenant_history(installed("shopify")))

    with pytest.raises(NotFound) as refused:
        tenant.add_connection("shopware6", CONNECTION_ID, META.as_dict())

    assert refused.value.reason_code == "driver_not_installed"
    assert then(tenant) == []


def test_a_connection_through_an_installed_driver_is_counted_for_that_driver() -> None:
    tenant = given(tenant_history(installed("shopware6")))

    tenant.add_connection("shopware6", CONNECTION_ID, META.as_dict())

    new = then(tenant)
    assert names(new) == ["ConnectionAdded"]
    assert tenant.connection_counts == {"shopware6": 1}


# ----- data model mirror -------------------------------------------------------------------------------


def attribute(code: str, label: str = "") -> dict[str, Any]:
    return {"code": code, "labels": {"default": label or code}, "type": "text", "options": [], "required": False,
            "multi_value": False}


def attribute_set(code: str, *codes: str) -> dict[str, Any]:
    return {"code": code, "labels": {"default": code}, "attribute_codes": list(codes)}


MODEL = ([attribute("color"), attribute("size")], [attribute_set("shirts", "color", "size")])


def mirror_history(*syncs: tuple[list[dict[str, Any]], list[dict[str, Any]]]) -> list[Past]:
    connection_id = uuid4()
    mirror = DataModelMirror(id=DataModelMirror.id_for(connection_id), connection_id=str(connection_id),
                             tenant_id="tenant-a")
    for number, (attributes, sets) in enumerate(syncs):
        mirror.record_sync(f"sync-{number}", attributes, sets, META.as_dict())
    return list(mirror.collect_events())


def test_the_first_sync_records_every_attribute_and_set_as_added() -> None:
    mirror = given(mirror_history())

    changes = mirror.record_sync(SYNC, *MODEL, META.as_dict())

    new = then(mirror)
    assert names(new) == ["Synced"]
    assert (new[0].added_attributes, new[0].added_sets) == MODEL
    assert (new[0].changed_attributes, new[0].removed_attributes) == ([], [])
    assert (new[0].changed_sets, new[0].removed_sets) == ([], [])
    assert (new[0].attributes_total, new[0].sets_total) == (2, 1)
    assert changes.added_attributes == MODEL[0]
    assert set(mirror.attributes) == {"color", "size"}


def test_an_unchanged_model_records_nothing() -> None:
    mirror = given(mirror_history(MODEL))

    changes = mirror.record_sync(SYNC_2, *MODEL, META.as_dict())

    assert changes.is_empty
    assert then(mirror) == []


def test_changed_and_removed_attributes_and_sets_are_recorded_exactly() -> None:
    mirror = given(mirror_history(MODEL))
    attributes = [attribute("color", "Colour"), attribute("material")]
    sets = [attribute_set("trousers", "material")]

    mirror.record_sync(SYNC_2, attributes, sets, META.as_dict())

    new = then(mirror)
    assert names(new) == ["Synced"]
    synced = new[0]
    assert synced.added_attributes == [attribute("material")]
    assert synced.changed_attributes == [attribute("color", "Colour")]
    assert synced.removed_attributes == ["size"]
    assert synced.added_sets == [attribute_set("trousers", "material")]
    assert synced.changed_sets == []
    assert synced.removed_sets == ["shirts"]
    assert mirror.attributes == {"color": attribute("color", "Colour"), "material": attribute("material")}
    assert list(mirror.attribute_sets) == ["trousers"]


def test_removing_a_connections_data_model_clears_the_mirror_once() -> None:
    mirror = given(mirror_history(MODEL))

    assert mirror.clear(META.as_dict()) is True
    assert mirror.clear(META.as_dict()) is False

    assert names(then(mirror)) == ["Cleared"]
    assert (mirror.attributes, mirror.attribute_sets) == ({}, {})
