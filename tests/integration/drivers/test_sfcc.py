"""Salesforce Commerce Cloud driver against the fake OCAPI Data API over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from contracts.datamodel import Attribute, AttributeOption, AttributeSet, AttributeType, DataModel
from contracts.drivers import SfccCredentials, SfccSettings
from services.driver_worker.domain.errors import CredentialsRejected, PermanentFailure, TransientFailure
from services.driver_worker.drivers.base import build_driver
from tests.fakes.sfcc import BM_PASSWORD, BM_USER, CLIENT_ID, CLIENT_PASSWORD, FakeSfcc
from tests.integration.drivers.conftest import ProgressRecorder, SleepRecorder, running

SETTINGS = SfccSettings()


@pytest.fixture
def fake() -> Iterator[tuple[FakeSfcc, str]]:
    fake, url = running(FakeSfcc)
    assert isinstance(fake, FakeSfcc)
    yield fake, url


def creds(url: str, bm_password: str = BM_PASSWORD, production: bool = False) -> SfccCredentials:
    one = {"instance_url": url, "client_id": CLIENT_ID, "client_password": CLIENT_PASSWORD,
           "bm_username": BM_USER, "bm_password": bm_password}
    return SfccCredentials.model_validate({**one, "production": one if production else None})


async def test_good_credentials_of_both_instances_are_accepted(
    fake: tuple[FakeSfcc, str], http: httpx.AsyncClient, sleeps: SleepRecorder
) -> None:
    await build_driver("sfcc", http, sleep=sleeps).check_credentials(creds(fake[1], production=True), SETTINGS)
    assert fake[0].count("/dw/oauth2/access_token") == 2


async def test_bad_credentials_are_rejected_with_the_vendor_message(
    fake: tuple[FakeSfcc, str], http: httpx.AsyncClient, sleeps: SleepRecorder
) -> None:
    with pytest.raises(CredentialsRejected) as info:
        await build_driver("sfcc", http, sleep=sleeps).check_credentials(creds(fake[1], "wrong"), SETTINGS)
    assert "Client authentication failed" in info.value.message and "wrong" not in info.value.message


async def test_small_model_is_mirrored_exactly_without_ignored_attributes(
    fake: tuple[FakeSfcc, str], http: httpx.AsyncClient, sleeps: SleepRecorder, progress: ProgressRecorder
) -> None:
    settings = SfccSettings(ignored_attributes=frozenset({"c_internalNote"}))
    model = await build_driver("sfcc", http, sleep=sleeps).fetch_model(creds(fake[1]), settings, progress)
    assert model == DataModel(
        attributes=(
            Attribute(code="ID", labels={"default": "ID"}, type=AttributeType.TEXT, required=True),
            Attribute(code="name", labels={"default": "Name", "de": "Name"}, type=AttributeType.TEXT),
            Attribute(
                code="color",
                labels={"default": "Color"},
                type=AttributeType.MULTISELECT,
                options=(AttributeOption(code="red", labels={"default": "Red"}), AttributeOption(code="blue", labels={"default": "Blue"})),
                multi_value=True,
            ),
        ),
        attribute_sets=(
            AttributeSet(code="general", labels={"default": "General"}, attribute_codes=("ID", "name")),
            AttributeSet(code="appearance", labels={"default": "Appearance"}, attribute_codes=("color",)),
        ),
    )
    assert progress.reports == [(4, None), (6, None)]


async def test_large_model_follows_next_in_pages_of_200(
    fake: tuple[FakeSfcc, str], http: httpx.AsyncClient, sleeps: SleepRecorder, progress: ProgressRecorder
) -> None:
    fake[0].load_large_model()
    model = await build_driver("sfcc", http, sleep=sleeps).fetch_model(creds(fake[1]), SETTINGS, progress)
    assert len(model.attributes) == 10_000 and len(model.attribute_sets) == 2_000
    assert fake[0].count("/attribute_definitions") == 50 and fake[0].count("/attribute_groups") == 10


async def test_invalid_access_token_fault_renews_the_token(
    fake: tuple[FakeSfcc, str], http: httpx.AsyncClient, sleeps: SleepRecorder, progress: ProgressRecorder
) -> None:
    driver = build_driver("sfcc", http, sleep=sleeps)
    await driver.check_credentials(creds(fake[1]), SETTINGS)
    fake[0].tokens.clear()
    await driver.fetch_model(creds(fake[1]), SETTINGS, progress)
    assert fake[0].count("/dw/oauth2/access_token") == 2


async def test_load_shedding_and_quota_are_retried(
    fake: tuple[FakeSfcc, str], http: httpx.AsyncClient, sleeps: SleepRecorder, progress: ProgressRecorder
) -> None:
    fake[0].faults.throttle, fake[0].faults.fail, fake[0].faults.retry_after = 1, 1, None
    fake[0].faults.only = "/attribute_groups"
    await build_driver("sfcc", http, sleep=sleeps).fetch_model(creds(fake[1]), SETTINGS, progress)
    assert fake[0].count("/attribute_groups") == 3 and sleeps.delays == [1.0, 2.0]


async def test_unending_load_shedding_is_a_transient_failure(
    fake: tuple[FakeSfcc, str], http: httpx.AsyncClient, sleeps: SleepRecorder, progress: ProgressRecorder
) -> None:
    fake[0].faults.fail, fake[0].faults.retry_after = 99, 30.0
    with pytest.raises(TransientFailure) as info:
        await build_driver("sfcc", http, sleep=sleeps).fetch_model(creds(fake[1]), SETTINGS, progress)
    assert info.value.retry_after == 30.0 and sleeps.delays == [30.0] * 4


async def test_unsupported_api_version_is_a_permanent_failure(
    fake: tuple[FakeSfcc, str], http: httpx.AsyncClient, sleeps: SleepRecorder, progress: ProgressRecorder
) -> None:
    with pytest.raises(PermanentFailure) as info:
        await build_driver("sfcc", http, sleep=sleeps).fetch_model(creds(fake[1]), SfccSettings(api_version="19_1"), progress)
    assert "404" in info.value.message
