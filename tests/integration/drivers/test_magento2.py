"""Magento 2 driver against the fake REST API over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from contracts.datamodel import Attribute, AttributeOption, AttributeSet, AttributeType, DataModel
from contracts.drivers import Magento2Credentials, Magento2Settings
from services.driver_worker.domain.errors import CredentialsRejected, PermanentFailure, TransientFailure
from services.driver_worker.drivers.base import build_driver
from tests.fakes.magento2 import BAD_LOGIN, PASSWORD, USERNAME, FakeMagento2
from tests.integration.drivers.conftest import ProgressRecorder, SleepRecorder, running

SETTINGS = Magento2Settings(store_view_locales={1: "de-DE"})


@pytest.fixture
def fake() -> Iterator[tuple[FakeMagento2, str]]:
    fake, url = running(FakeMagento2)
    assert isinstance(fake, FakeMagento2)
    yield fake, url


def creds(url: str, password: str = PASSWORD) -> Magento2Credentials:
    return Magento2Credentials(base_url=url, username=USERNAME, password=password)


async def test_good_credentials_are_accepted(fake: tuple[FakeMagento2, str], http: httpx.AsyncClient, sleeps: SleepRecorder) -> None:
    await build_driver("magento2", http, sleep=sleeps).check_credentials(creds(fake[1]), SETTINGS)


async def test_bad_login_is_rejected_with_the_vendor_message(
    fake: tuple[FakeMagento2, str], http: httpx.AsyncClient, sleeps: SleepRecorder
) -> None:
    with pytest.raises(CredentialsRejected) as info:
        await build_driver("magento2", http, sleep=sleeps).check_credentials(creds(fake[1], "nope"), SETTINGS)
    assert BAD_LOGIN in info.value.message


async def test_two_factor_refusal_is_a_clear_credentials_error(
    fake: tuple[FakeMagento2, str], http: httpx.AsyncClient, sleeps: SleepRecorder
) -> None:
    fake[0].two_factor = True
    with pytest.raises(CredentialsRejected) as info:
        await build_driver("magento2", http, sleep=sleeps).check_credentials(creds(fake[1]), SETTINGS)
    assert "two-factor" in info.value.message


async def test_missing_acl_names_the_resource(
    fake: tuple[FakeMagento2, str], http: httpx.AsyncClient, sleeps: SleepRecorder
) -> None:
    fake[0].acl_denied = True
    with pytest.raises(CredentialsRejected) as info:
        await build_driver("magento2", http, sleep=sleeps).check_credentials(creds(fake[1]), SETTINGS)
    assert "isn't authorized to access Magento_Catalog::attributes_attributes" in info.value.message
    assert fake[0].count("/integration/admin/token") == 2  # a fresh token was tried before giving up


async def test_small_model_is_mirrored_exactly(
    fake: tuple[FakeMagento2, str], http: httpx.AsyncClient, sleeps: SleepRecorder, progress: ProgressRecorder
) -> None:
    model = await build_driver("magento2", http, sleep=sleeps).fetch_model(creds(fake[1]), SETTINGS, progress)
    assert model == DataModel(
        attributes=(
            Attribute(code="name", labels={"default": "Product Name", "de-DE": "Produktname"}, type=AttributeType.TEXT, required=True),
            Attribute(
                code="color",
                labels={"default": "Color"},
                type=AttributeType.SELECT,
                options=(AttributeOption(code="49", labels={"default": "Black"}), AttributeOption(code="50", labels={"default": "Blue"})),
            ),
            Attribute(code="price", labels={"default": "Price"}, type=AttributeType.PRICE, required=True),
            Attribute(
                code="activity",
                labels={"default": "Activity"},
                type=AttributeType.MULTISELECT,
                options=(AttributeOption(code="1", labels={"default": "Yoga"}),),
                multi_value=True,
            ),
        ),
        attribute_sets=(
            AttributeSet(code="4", labels={"default": "Default"}, attribute_codes=("name", "price")),
            AttributeSet(code="9", labels={"default": "Gear"}, attribute_codes=("name", "color", "price", "activity")),
        ),
    )
    assert progress.reports[-1] == (8, 8)


async def test_large_model_stops_on_total_count_despite_the_repeated_last_page(
    fake: tuple[FakeMagento2, str], http: httpx.AsyncClient, sleeps: SleepRecorder, progress: ProgressRecorder
) -> None:
    shop, url = fake
    shop.load_large_model()
    shop.attributes.append(shop.attributes.pop(0))  # 10,000 is a multiple of 500: move one to keep the trap live
    model = await build_driver("magento2", http, sleep=sleeps).fetch_model(creds(url), SETTINGS, progress)
    assert len(model.attributes) == 10_000
    assert len(model.attribute_sets) == 2_000
    assert shop.count("/products/attributes") == 20
    assert shop.count("/sets/list") == 4


async def test_total_count_is_trusted_when_the_last_page_would_repeat(
    fake: tuple[FakeMagento2, str], http: httpx.AsyncClient, sleeps: SleepRecorder, progress: ProgressRecorder
) -> None:
    shop, url = fake
    shop.load_large_model(attributes=750, sets=3)
    model = await build_driver("magento2", http, sleep=sleeps).fetch_model(creds(url), SETTINGS, progress)
    assert len(model.attributes) == 750 and len({a.code for a in model.attributes}) == 750
    assert shop.count("/products/attributes") == 2


async def test_cdn_429_is_retried_after_retry_after(
    fake: tuple[FakeMagento2, str], http: httpx.AsyncClient, sleeps: SleepRecorder
) -> None:
    shop, url = fake
    shop.faults.throttle, shop.faults.retry_after, shop.faults.only = 2, 3.0, "/sets/list"
    await build_driver("magento2", http, sleep=sleeps).check_credentials(creds(url), SETTINGS)
    assert shop.count("/sets/list") == 3 and sleeps.delays == [3.0, 3.0]


async def test_transient_503_is_retried_then_given_up(
    fake: tuple[FakeMagento2, str], http: httpx.AsyncClient, sleeps: SleepRecorder, progress: ProgressRecorder
) -> None:
    shop, url = fake
    shop.faults.fail, shop.faults.retry_after, shop.faults.only = 50, None, "/products/attributes"
    with pytest.raises(TransientFailure):
        await build_driver("magento2", http, sleep=sleeps).fetch_model(creds(url), SETTINGS, progress)
    assert shop.count("/products/attributes") == 5 and sleeps.delays == [1.0, 2.0, 4.0, 8.0]


async def test_a_base_url_without_the_rest_api_is_a_permanent_failure(
    fake: tuple[FakeMagento2, str], http: httpx.AsyncClient, sleeps: SleepRecorder, progress: ProgressRecorder
) -> None:
    with pytest.raises(PermanentFailure) as info:
        await build_driver("magento2", http, sleep=sleeps).fetch_model(creds(fake[1] + "/missing"), SETTINGS, progress)
    assert "404" in info.value.message and not info.value.retryable
