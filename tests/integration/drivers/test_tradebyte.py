"""Tradebyte driver against the fake TB.One REST API (TB.Cat XML) over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from contracts.datamodel import Attribute, AttributeOption, AttributeSet, AttributeType, DataModel
from contracts.drivers import TradebyteCredentials, TradebyteSettings
from services.driver_worker.domain.errors import CredentialsRejected, PermanentFailure, TransientFailure
from services.driver_worker.drivers.base import build_driver
from services.driver_worker.drivers.tradebyte import TradebyteDriver
from tests.fakes.tradebyte import CHANNEL, HNR, PASSWORD, USERNAME, FakeTradebyte
from tests.integration.drivers.conftest import ProgressRecorder, SleepRecorder, running

BY_TYPE = TradebyteSettings(attribute_set_tag="product_type")


@pytest.fixture
def fake() -> Iterator[tuple[FakeTradebyte, str]]:
    fake, url = running(FakeTradebyte)
    assert isinstance(fake, FakeTradebyte)
    yield fake, url


def creds(password: str = PASSWORD, hnr: str = HNR) -> TradebyteCredentials:
    return TradebyteCredentials(hnr=hnr, channel=CHANNEL, rest_username=USERNAME, rest_password=password,
                                sftp_username="ftp", sftp_password="ftp-pw")


def driver(url: str, http: httpx.AsyncClient, sleeps: SleepRecorder, **options: float) -> TradebyteDriver:
    return TradebyteDriver(http, base_url=url, test_url=url, sleep=sleeps, **options)


async def test_good_credentials_are_accepted_with_an_empty_delta(
    fake: tuple[FakeTradebyte, str], http: httpx.AsyncClient, sleeps: SleepRecorder
) -> None:
    await build_driver("tradebyte", http, {"tradebyte": fake[1]}, sleeps).check_credentials(creds(), BY_TYPE)


async def test_bad_credentials_are_rejected_once_with_the_xml_message(
    fake: tuple[FakeTradebyte, str], http: httpx.AsyncClient, sleeps: SleepRecorder
) -> None:
    with pytest.raises(CredentialsRejected) as info:
        await driver(fake[1], http, sleeps).check_credentials(creds("wrong"), BY_TYPE)
    assert "Authentication failed: invalid user name or password" in info.value.message
    assert fake[0].count("/products/") == 1 and sleeps.delays == []


async def test_small_model_is_derived_exactly_from_the_export(
    fake: tuple[FakeTradebyte, str], http: httpx.AsyncClient, sleeps: SleepRecorder, progress: ProgressRecorder
) -> None:
    model = await driver(fake[1], http, sleeps).fetch_model(creds(), BY_TYPE, progress)
    assert model == DataModel(
        attributes=(
            Attribute(code="component.material", labels={"default": "Material"}, type=AttributeType.TEXT),
            Attribute(code="tag.product_type", labels={"default": "product_type"}, type=AttributeType.SELECT,
                      options=(AttributeOption(code="shirt", labels={"default": "shirt"}),
                               AttributeOption(code="shoe", labels={"default": "shoe"}))),
            Attribute(code="tag.season", labels={"default": "season"}, type=AttributeType.MULTISELECT, multi_value=True,
                      options=(AttributeOption(code="ss24", labels={"default": "ss24"}),
                               AttributeOption(code="aw24", labels={"default": "aw24"}))),
            Attribute(code="variant.color", labels={"default": "Farbe"}, type=AttributeType.SELECT,
                      options=(AttributeOption(code="rot", labels={"de": "rot"}), AttributeOption(code="blau", labels={"de": "blau"}))),
            Attribute(code="component.care", labels={"default": "Pflege"}, type=AttributeType.TEXT),
            Attribute(code="variant.size", labels={"default": "Größe"}, type=AttributeType.SELECT,
                      options=(AttributeOption(code="42", labels={"de": "42"}),)),
        ),
        attribute_sets=(
            AttributeSet(code="shirt", labels={"default": "shirt"},
                         attribute_codes=("component.material", "tag.product_type", "tag.season", "variant.color")),
            AttributeSet(code="shoe", labels={"default": "shoe"},
                         attribute_codes=("component.material", "component.care", "tag.product_type", "variant.size")),
        ),
    )
    assert progress.reports[-1] == (2, None)


async def test_large_export_gives_10000_attributes_in_2000_sets(
    fake: tuple[FakeTradebyte, str], http: httpx.AsyncClient, sleeps: SleepRecorder, progress: ProgressRecorder
) -> None:
    fake[0].load_large_model()
    model = await driver(fake[1], http, sleeps).fetch_model(creds(), BY_TYPE, progress)
    assert len(model.attributes) == 10_000 and len(model.attribute_sets) == 2_000
    assert fake[0].count("/products/") == 1


async def test_a_second_full_export_within_a_day_is_refused_without_a_call(
    fake: tuple[FakeTradebyte, str], http: httpx.AsyncClient, sleeps: SleepRecorder, progress: ProgressRecorder
) -> None:
    tradebyte = driver(fake[1], http, sleeps)
    await tradebyte.fetch_model(creds(), BY_TYPE, progress)
    with pytest.raises(TransientFailure) as info:
        await tradebyte.fetch_model(creds(), BY_TYPE, progress)
    assert info.value.retry_after is not None and info.value.retry_after > 23 * 3600
    assert fake[0].count("/products/") == 1


async def test_a_changed_catalogue_is_seen_by_the_next_allowed_export(
    fake: tuple[FakeTradebyte, str], http: httpx.AsyncClient, sleeps: SleepRecorder, progress: ProgressRecorder
) -> None:
    tradebyte = driver(fake[1], http, sleeps, full_pull_interval=0)
    await tradebyte.fetch_model(creds(), BY_TYPE, progress)
    fake[0].products.pop()
    model = await tradebyte.fetch_model(creds(), BY_TYPE, progress)
    assert [s.code for s in model.attribute_sets] == ["shirt"]


async def test_5xx_is_retried_no_sooner_than_ten_minutes(
    fake: tuple[FakeTradebyte, str], http: httpx.AsyncClient, sleeps: SleepRecorder, progress: ProgressRecorder
) -> None:
    fake[0].faults.fail, fake[0].faults.retry_after = 2, 5.0
    await driver(fake[1], http, sleeps).fetch_model(creds(), BY_TYPE, progress)
    assert fake[0].count("/products/") == 3 and sleeps.delays == [600.0, 600.0]


async def test_5xx_is_retried_at_most_five_times(
    fake: tuple[FakeTradebyte, str], http: httpx.AsyncClient, sleeps: SleepRecorder, progress: ProgressRecorder
) -> None:
    fake[0].faults.fail = 99
    with pytest.raises(TransientFailure):
        await driver(fake[1], http, sleeps, min_retry_delay=900.0).fetch_model(creds(), BY_TYPE, progress)
    assert fake[0].count("/products/") == 6 and sleeps.delays == [900.0] * 5


async def test_429_is_never_repeated(
    fake: tuple[FakeTradebyte, str], http: httpx.AsyncClient, sleeps: SleepRecorder, progress: ProgressRecorder
) -> None:
    fake[0].faults.throttle = 1
    with pytest.raises(TransientFailure) as info:
        await driver(fake[1], http, sleeps).fetch_model(creds(), BY_TYPE, progress)
    assert info.value.type == "rate_limited"
    assert fake[0].count("/products/") == 1 and sleeps.delays == []


async def test_an_unknown_account_is_rejected(
    fake: tuple[FakeTradebyte, str], http: httpx.AsyncClient, sleeps: SleepRecorder
) -> None:
    with pytest.raises(CredentialsRejected) as info:
        await driver(fake[1], http, sleeps).check_credentials(creds(hnr="999"), BY_TYPE)
    assert "No access to account 999" in info.value.message


async def test_a_malformed_export_is_a_permanent_failure(
    fake: tuple[FakeTradebyte, str], http: httpx.AsyncClient, sleeps: SleepRecorder, progress: ProgressRecorder
) -> None:
    fake[0].broken_xml = True
    with pytest.raises(PermanentFailure) as info:
        await driver(fake[1], http, sleeps).fetch_model(creds(), BY_TYPE, progress)
    assert "not well-formed XML" in info.value.message and fake[0].count("/products/") == 1
