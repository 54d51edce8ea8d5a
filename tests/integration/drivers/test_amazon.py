"""Amazon SP-API driver against the fake LWA + SP-API over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from contracts.datamodel import Attribute, AttributeOption, AttributeSet, AttributeType, DataModel
from contracts.drivers import AmazonAppCredentials, AmazonCredentials, AmazonSettings
from services.driver_worker.domain.errors import CredentialsRejected, PermanentFailure, TransientFailure
from services.driver_worker.drivers.base import Driver, Sleep, build_driver
from tests.fakes.amazon import CLIENT_ID, CLIENT_SECRET, MARKETPLACE_ID, REFRESH_TOKEN, SELLER_ID, FakeAmazon
from tests.integration.drivers.conftest import ProgressRecorder, SleepRecorder, running

SETTINGS = AmazonSettings()
APP = AmazonAppCredentials(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)


@pytest.fixture
def fake() -> Iterator[tuple[FakeAmazon, str]]:
    fake, url = running(FakeAmazon)
    assert isinstance(fake, FakeAmazon)
    yield fake, url


def driver(url: str, http: httpx.AsyncClient, sleep: Sleep, app: AmazonAppCredentials = APP) -> Driver[AmazonCredentials, AmazonSettings]:
    endpoints = {"amazon_lwa_token_url": f"{url}/auth/o2/token", "amazon_sp_api": url}
    return build_driver("amazon", http, endpoints, sleep, amazon_app=app)


def creds(refresh_token: str = REFRESH_TOKEN, marketplace_id: str = MARKETPLACE_ID) -> AmazonCredentials:
    return AmazonCredentials(seller_id=SELLER_ID, marketplace_id=marketplace_id, refresh_token=refresh_token)


async def test_good_credentials_are_accepted(fake: tuple[FakeAmazon, str], http: httpx.AsyncClient, sleeps: SleepRecorder) -> None:
    await driver(fake[1], http, sleeps).check_credentials(creds(), SETTINGS)


async def test_bad_refresh_token_is_rejected_with_the_lwa_message(
    fake: tuple[FakeAmazon, str], http: httpx.AsyncClient, sleeps: SleepRecorder
) -> None:
    with pytest.raises(CredentialsRejected) as info:
        await driver(fake[1], http, sleeps).check_credentials(creds("Atzr|revoked"), SETTINGS)
    assert "invalid grant parameter" in info.value.message and "revoked" not in info.value.message


async def test_a_marketplace_the_seller_is_not_in_is_rejected(
    fake: tuple[FakeAmazon, str], http: httpx.AsyncClient, sleeps: SleepRecorder
) -> None:
    with pytest.raises(CredentialsRejected) as info:
        await driver(fake[1], http, sleeps).check_credentials(creds(marketplace_id="ATVPDKIKX0DER"), SETTINGS)
    assert "ATVPDKIKX0DER" in info.value.message


async def test_wrong_app_client_is_a_permanent_configuration_failure(
    fake: tuple[FakeAmazon, str], http: httpx.AsyncClient, sleeps: SleepRecorder
) -> None:
    wrong = AmazonAppCredentials(client_id=CLIENT_ID, client_secret="nope")
    with pytest.raises(PermanentFailure) as info:
        await driver(fake[1], http, sleeps, wrong).check_credentials(creds(), SETTINGS)
    assert "Client authentication failed" in info.value.message and info.value.type == "not_configured"


async def test_small_model_is_mirrored_exactly(
    fake: tuple[FakeAmazon, str], http: httpx.AsyncClient, sleeps: SleepRecorder, progress: ProgressRecorder
) -> None:
    model = await driver(fake[1], http, sleeps).fetch_model(creds(), SETTINGS, progress)
    assert model == DataModel(
        attributes=(
            Attribute(code="list_price", labels={"default": "List Price"}, type=AttributeType.JSON, multi_value=True),
            Attribute(code="item_name", labels={"default": "Item Name"}, type=AttributeType.TEXT, required=True),
            Attribute(
                code="color",
                labels={"default": "Color"},
                type=AttributeType.SELECT,
                options=(AttributeOption(code="red", labels={"default": "Red"}), AttributeOption(code="blue", labels={"default": "Blue"})),
                required=True,
            ),
            Attribute(code="bullet_point", labels={"default": "Bullet Point"}, type=AttributeType.TEXT, multi_value=True),
            Attribute(code="capacity", labels={"default": "Capacity"}, type=AttributeType.NUMBER),
        ),
        attribute_sets=(
            AttributeSet(code="SHIRT", labels={"default": "Shirt"}, attribute_codes=("list_price", "item_name", "color", "bullet_point")),
            AttributeSet(code="LUGGAGE", labels={"default": "Luggage"}, attribute_codes=("capacity", "item_name")),
        ),
    )
    assert progress.reports == [(0, 2), (1, 2), (2, 2)]


async def test_schemas_are_cached_by_checksum_until_they_change(
    fake: tuple[FakeAmazon, str], http: httpx.AsyncClient, sleeps: SleepRecorder, progress: ProgressRecorder
) -> None:
    amazon = driver(fake[1], http, sleeps)
    await amazon.fetch_model(creds(), SETTINGS, progress)
    fake[0].product_types[1]["properties"]["weight"] = {"title": "Weight", "type": "array", "maxItems": 1,
                                                       "items": {"type": "object", "properties": {"value": {"type": "number"}}}}
    model = await amazon.fetch_model(creds(), SETTINGS, progress)
    assert fake[0].count("/schemas/SHIRT") == 1 and fake[0].count("/schemas/LUGGAGE") == 2
    assert model.attribute_sets[1].attribute_codes == ("capacity", "item_name", "weight")


async def test_large_model_is_paced_at_five_requests_a_second(
    fake: tuple[FakeAmazon, str], http: httpx.AsyncClient, sleeps: SleepRecorder, progress: ProgressRecorder
) -> None:
    fake[0].load_large_model()
    model = await driver(fake[1], http, sleeps).fetch_model(creds(), SETTINGS, progress)
    assert len(model.attributes) == 10_000 and len(model.attribute_sets) == 2_000
    # 2,001 definition calls at 5/s with a burst of 10: about 398 s of waiting, asked of the injected sleep.
    assert sum(sleeps.delays) == pytest.approx((2001 - 10) / 5, abs=1.0)


async def test_429_is_retried_with_backoff(
    fake: tuple[FakeAmazon, str], http: httpx.AsyncClient, sleeps: SleepRecorder, progress: ProgressRecorder
) -> None:
    fake[0].faults.throttle, fake[0].faults.retry_after, fake[0].faults.only = 2, None, "/productTypes/SHIRT"
    await driver(fake[1], http, sleeps).fetch_model(creds(), SETTINGS, progress)
    assert fake[0].count("/productTypes/SHIRT") == 3
    assert [d for d in sleeps.delays if d >= 1.0] == [1.0, 2.0]


async def test_endless_internal_failure_is_a_transient_failure(
    fake: tuple[FakeAmazon, str], http: httpx.AsyncClient, sleeps: SleepRecorder, progress: ProgressRecorder
) -> None:
    fake[0].faults.fail, fake[0].faults.retry_after, fake[0].faults.only = 99, None, "/productTypes"
    with pytest.raises(TransientFailure):
        await driver(fake[1], http, sleeps).fetch_model(creds(), SETTINGS, progress)
    assert fake[0].count("/productTypes") == 5


async def test_missing_app_configuration_is_a_permanent_failure(http: httpx.AsyncClient, sleeps: SleepRecorder) -> None:
    amazon = build_driver("amazon", http, sleep=sleeps)
    with pytest.raises(PermanentFailure) as info:
        await amazon.check_credentials(creds(), SETTINGS)
    assert "not configured" in info.value.message
