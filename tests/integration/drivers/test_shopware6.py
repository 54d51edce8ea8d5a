"""Shopware 6 driver against the fake Admin API over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from contracts.datamodel import Attribute, AttributeOption, AttributeSet, AttributeType, DataModel
from contracts.drivers import Shopware6Credentials, Shopware6Settings
from services.driver_worker.domain.errors import CredentialsRejected, PermanentFailure, TransientFailure
from services.driver_worker.drivers.base import RetryPolicy, TokenCache, build_driver
from services.driver_worker.drivers.shopware6 import Shopware6Driver
from tests.fakes.shopware6 import CLIENT_ID, CLIENT_SECRET, FakeShopware6
from tests.integration.drivers.conftest import ProgressRecorder, SleepRecorder, running

SETTINGS = Shopware6Settings()


@pytest.fixture
def fake() -> Iterator[tuple[FakeShopware6, str]]:
    fake, url = running(FakeShopware6)
    assert isinstance(fake, FakeShopware6)
    yield fake, url


def creds(url: str, secret: str = CLIENT_SECRET) -> Shopware6Credentials:
    return Shopware6Credentials(url=url, access_key_id=CLIENT_ID, secret_access_key=secret)


async def test_good_credentials_are_accepted(fake: tuple[FakeShopware6, str], http: httpx.AsyncClient, sleeps: SleepRecorder) -> None:
    _, url = fake
    await build_driver("shopware6", http, sleep=sleeps).check_credentials(creds(url), SETTINGS)


async def test_bad_credentials_are_rejected_with_the_vendor_message(
    fake: tuple[FakeShopware6, str], http: httpx.AsyncClient, sleeps: SleepRecorder
) -> None:
    _, url = fake
    with pytest.raises(CredentialsRejected) as info:
        await build_driver("shopware6", http, sleep=sleeps).check_credentials(creds(url, "wrong"), SETTINGS)
    assert info.value.type == "credentials_rejected" and not info.value.retryable
    assert "Client authentication failed" in info.value.message
    assert "wrong" not in info.value.message


async def test_small_model_is_mirrored_exactly(
    fake: tuple[FakeShopware6, str], http: httpx.AsyncClient, sleeps: SleepRecorder, progress: ProgressRecorder
) -> None:
    _, url = fake
    model = await build_driver("shopware6", http, sleep=sleeps).fetch_model(creds(url), SETTINGS, progress)
    assert model == DataModel(
        attributes=(
            Attribute(
                code="a" * 32,
                labels={"default": "Color"},
                type=AttributeType.SELECT,
                options=(
                    AttributeOption(code="c1" * 16, labels={"default": "Red"}),
                    AttributeOption(code="c2" * 16, labels={"default": "Blue"}),
                ),
                multi_value=True,
            ),
            Attribute(
                code="b" * 32,
                labels={"default": "Size"},
                type=AttributeType.SELECT,
                options=(AttributeOption(code="s1" * 16, labels={"default": "S"}),),
                multi_value=True,
            ),
            Attribute(code="shoe_heel", labels={"en-GB": "Heel height"}, type=AttributeType.INTEGER),
            Attribute(
                code="shoe_material",
                labels={"en-GB": "Material"},
                type=AttributeType.MULTISELECT,
                options=(
                    AttributeOption(code="leather", labels={"en-GB": "Leather", "de-DE": "Leder"}),
                    AttributeOption(code="textile", labels={"en-GB": "Textile"}),
                ),
                multi_value=True,
            ),
            Attribute(code="shoe_new", labels={"en-GB": "New"}, type=AttributeType.BOOLEAN),
        ),
        attribute_sets=(
            AttributeSet(
                code="shoe_specs",
                labels={"en-GB": "Shoe specs", "de-DE": "Schuhdaten"},
                attribute_codes=("shoe_heel", "shoe_material", "shoe_new"),
            ),
        ),
    )
    assert progress.reports == [(2, None), (3, None)]


async def test_a_changed_model_is_seen_by_the_next_sync(
    fake: tuple[FakeShopware6, str], http: httpx.AsyncClient, sleeps: SleepRecorder, progress: ProgressRecorder
) -> None:
    shop, url = fake
    driver = build_driver("shopware6", http, sleep=sleeps)
    await driver.fetch_model(creds(url), SETTINGS, progress)
    del shop.property_groups[1]
    shop.property_groups[0]["name"] = "Colour"
    model = await driver.fetch_model(creds(url), SETTINGS, progress)
    assert [a.labels for a in model.attributes[:2]] == [{"default": "Colour"}, {"en-GB": "Heel height"}]
    assert shop.count("/api/oauth/token") == 1  # the token was cached between the syncs


async def test_large_model_is_mirrored_in_pages(
    fake: tuple[FakeShopware6, str], http: httpx.AsyncClient, sleeps: SleepRecorder, progress: ProgressRecorder
) -> None:
    shop, url = fake
    shop.load_large_model()
    model = await build_driver("shopware6", http, sleep=sleeps).fetch_model(creds(url), SETTINGS, progress)
    assert len(model.attributes) == 10_000
    assert len(model.attribute_sets) == 2_000
    assert shop.count("/api/search/property-group") == 2  # 1,000 groups in pages of 500


async def test_expired_token_is_renewed_once(
    fake: tuple[FakeShopware6, str], http: httpx.AsyncClient, sleeps: SleepRecorder, progress: ProgressRecorder
) -> None:
    shop, url = fake
    driver = build_driver("shopware6", http, sleep=sleeps)
    await driver.check_credentials(creds(url), SETTINGS)
    shop.expire_tokens()
    await driver.fetch_model(creds(url), SETTINGS, progress)
    assert shop.count("/api/oauth/token") == 2


async def test_token_route_429_is_retried_after_retry_after(
    fake: tuple[FakeShopware6, str], http: httpx.AsyncClient, sleeps: SleepRecorder
) -> None:
    shop, url = fake
    shop.faults.throttle, shop.faults.retry_after, shop.faults.only = 2, 6.0, "/api/oauth/token"
    await build_driver("shopware6", http, sleep=sleeps).check_credentials(creds(url), SETTINGS)
    assert shop.count("/api/oauth/token") == 3
    assert sleeps.delays == [6.0, 6.0]


async def test_transient_503_is_retried_with_backoff(
    fake: tuple[FakeShopware6, str], http: httpx.AsyncClient, sleeps: SleepRecorder, progress: ProgressRecorder
) -> None:
    shop, url = fake
    shop.faults.fail, shop.faults.retry_after, shop.faults.only = 3, None, "/api/search"
    await build_driver("shopware6", http, sleep=sleeps).fetch_model(creds(url), SETTINGS, progress)
    assert shop.count("/api/search/property-group") == 4
    assert sleeps.delays == [1.0, 2.0, 4.0]


async def test_persistent_503_ends_in_a_transient_failure(
    fake: tuple[FakeShopware6, str], http: httpx.AsyncClient, sleeps: SleepRecorder, progress: ProgressRecorder
) -> None:
    shop, url = fake
    shop.faults.fail, shop.faults.only = 99, "/api/search"
    with pytest.raises(TransientFailure) as info:
        await build_driver("shopware6", http, sleep=sleeps).fetch_model(creds(url), SETTINGS, progress)
    assert info.value.retryable and "gave up after 5 attempts" in info.value.message
    assert shop.count("/api/search/property-group") == 5


async def test_hanging_shop_times_out_and_is_retried(
    fake: tuple[FakeShopware6, str], sleeps: SleepRecorder
) -> None:
    shop, url = fake
    shop.faults.hang, shop.faults.hang_seconds, shop.faults.only = 1, 5.0, "/api/oauth/token"
    async with httpx.AsyncClient(timeout=0.2) as client:
        await build_driver("shopware6", client, sleep=sleeps).check_credentials(creds(url), SETTINGS)
    assert shop.count("/api/oauth/token") == 2 and sleeps.delays == [1.0]


async def test_a_missing_shop_api_is_a_permanent_failure(
    fake: tuple[FakeShopware6, str], http: httpx.AsyncClient, sleeps: SleepRecorder
) -> None:
    _, url = fake
    driver = Shopware6Driver(http, sleep=sleeps, policy=RetryPolicy(), tokens=TokenCache())
    with pytest.raises(PermanentFailure) as info:
        await driver.check_credentials(creds(url + "/not-a-shop"), SETTINGS)
    assert "404" in info.value.message and not info.value.retryable
