"""Shopify driver against the fake Admin GraphQL API over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from contracts.datamodel import Attribute, AttributeOption, AttributeSet, AttributeType, DataModel
from contracts.drivers import ShopifyCredentials, ShopifySettings
from services.driver_worker.domain.errors import CredentialsRejected, PermanentFailure, TransientFailure
from services.driver_worker.drivers.base import Driver, Sleep, build_driver
from tests.fakes.shopify import SHOP, TOKEN, FakeShopify
from tests.integration.drivers.conftest import ProgressRecorder, SleepRecorder, running

SETTINGS = ShopifySettings()


@pytest.fixture
def fake() -> Iterator[tuple[FakeShopify, str]]:
    fake, url = running(FakeShopify)
    assert isinstance(fake, FakeShopify)
    yield fake, url


def driver(url: str, http: httpx.AsyncClient, sleep: Sleep) -> Driver[ShopifyCredentials, ShopifySettings]:
    return build_driver("shopify", http, {"shopify": url + "/{shop}"}, sleep)


def creds(token: str = TOKEN, shop: str = SHOP) -> ShopifyCredentials:
    return ShopifyCredentials(shop_domain=shop, access_token=token)


async def test_good_token_is_accepted(fake: tuple[FakeShopify, str], http: httpx.AsyncClient, sleeps: SleepRecorder) -> None:
    await driver(fake[1], http, sleeps).check_credentials(creds(), SETTINGS)


async def test_bad_token_is_rejected_with_the_vendor_message(
    fake: tuple[FakeShopify, str], http: httpx.AsyncClient, sleeps: SleepRecorder
) -> None:
    with pytest.raises(CredentialsRejected) as info:
        await driver(fake[1], http, sleeps).check_credentials(creds("shpat_wrong"), SETTINGS)
    assert "Invalid API key or access token" in info.value.message and "shpat_wrong" not in info.value.message


async def test_unknown_shop_is_rejected(fake: tuple[FakeShopify, str], http: httpx.AsyncClient, sleeps: SleepRecorder) -> None:
    with pytest.raises(CredentialsRejected) as info:
        await driver(fake[1], http, sleeps).check_credentials(creds(shop="other.myshopify.com"), SETTINGS)
    assert "other.myshopify.com" in info.value.message


async def test_small_model_is_mirrored_exactly(
    fake: tuple[FakeShopify, str], http: httpx.AsyncClient, sleeps: SleepRecorder, progress: ProgressRecorder
) -> None:
    model = await driver(fake[1], http, sleeps).fetch_model(creds(), SETTINGS, progress)
    color, width = "gid://shopify/TaxonomyChoiceListAttribute/1", "gid://shopify/TaxonomyMeasurementAttribute/2"
    assert model == DataModel(
        attributes=(
            Attribute(
                code="product.custom.material",
                labels={"default": "Material"},
                type=AttributeType.MULTISELECT,
                options=(AttributeOption(code="Cotton", labels={"default": "Cotton"}), AttributeOption(code="Wool", labels={"default": "Wool"})),
                multi_value=True,
            ),
            Attribute(code="product.custom.care", labels={"default": "Care guide"}, type=AttributeType.HTML),
            Attribute(code="variant.custom.ean_note", labels={"default": "EAN note"}, type=AttributeType.INTEGER),
            Attribute(
                code=color,
                labels={"default": "Color"},
                type=AttributeType.MULTISELECT,
                options=(AttributeOption(code="gid://shopify/TaxonomyValue/1", labels={"default": "Red"}),),
                multi_value=True,
            ),
            Attribute(code=width, labels={"default": "Width"}, type=AttributeType.NUMBER),
        ),
        attribute_sets=(
            AttributeSet(code="product", labels={"default": "Product metafields"}, attribute_codes=("product.custom.material", "product.custom.care")),
            AttributeSet(code="variant", labels={"default": "Variant metafields"}, attribute_codes=("variant.custom.ean_note",)),
            AttributeSet(code="gid://shopify/TaxonomyCategory/aa", labels={"default": "Apparel & Accessories"}, attribute_codes=(color,)),
            AttributeSet(
                code="gid://shopify/TaxonomyCategory/aa-1",
                labels={"default": "Apparel & Accessories > Clothing"},
                attribute_codes=(color, width),
            ),
        ),
    )


async def test_large_model_is_mirrored_in_pages(
    fake: tuple[FakeShopify, str], http: httpx.AsyncClient, sleeps: SleepRecorder, progress: ProgressRecorder
) -> None:
    fake[0].load_large_model()
    model = await driver(fake[1], http, sleeps).fetch_model(creds(), SETTINGS, progress)
    assert len(model.attributes) == 10_000 and len(model.attribute_sets) == 2_000
    assert len({a.code for a in model.attributes}) == 10_000
    assert sleeps.delays == []  # the bucket never ran short


@pytest.mark.parametrize("status", [200, 429])
async def test_throttled_answers_wait_for_the_bucket_to_refill(
    status: int, fake: tuple[FakeShopify, str], http: httpx.AsyncClient, sleeps: SleepRecorder, progress: ProgressRecorder
) -> None:
    fake[0].faults.throttle, fake[0].faults.retry_after, fake[0].throttle_status = 2, None, status
    await driver(fake[1], http, sleeps).fetch_model(creds(), SETTINGS, progress)
    # (requested 252 - available 52) / restore rate 100 = 2 s, twice.
    assert sleeps.delays == [2.0, 2.0]
    assert fake[0].count("graphql.json") == 2 + 2 + 1 + 1 + 1


async def test_a_low_bucket_delays_the_next_query(
    fake: tuple[FakeShopify, str], http: httpx.AsyncClient, sleeps: SleepRecorder, progress: ProgressRecorder
) -> None:
    fake[0].available = 0.0
    await driver(fake[1], http, sleeps).fetch_model(creds(), ShopifySettings(mirror_taxonomy=False), progress)
    # The second MetafieldDefinitions query costs 252 with an empty bucket refilling at 100/s.
    assert len(sleeps.delays) == 1 and sleeps.delays[0] == pytest.approx(2.52, abs=0.05)


async def test_endless_throttling_is_a_transient_failure(
    fake: tuple[FakeShopify, str], http: httpx.AsyncClient, sleeps: SleepRecorder
) -> None:
    fake[0].faults.throttle, fake[0].faults.retry_after = 99, None
    with pytest.raises(TransientFailure):
        await driver(fake[1], http, sleeps).check_credentials(creds(), SETTINGS)
    assert fake[0].count("graphql.json") == 9


async def test_a_query_error_is_a_permanent_failure(
    fake: tuple[FakeShopify, str], http: httpx.AsyncClient, sleeps: SleepRecorder, progress: ProgressRecorder
) -> None:
    fake[0].graphql_error = "Field 'taxonomy' doesn't exist on type 'QueryRoot'"
    with pytest.raises(PermanentFailure) as info:
        await driver(fake[1], http, sleeps).fetch_model(creds(), SETTINGS, progress)
    assert "doesn't exist" in info.value.message
