"""Mirror the 10,000-attribute / 2,000-set model from each fake marketplace; print time and memory.

    python bench/bench_driver_mirror.py [driver ...]

Each fake runs on loopback in a background thread of this process, so the peak RSS printed (the
process's high-water mark so far, from getrusage) includes the fakes' generated models. Waits the
drivers ask for (Amazon's 5 requests/s pacing) are recorded, not slept, and printed separately: the
duration is the drivers' own cost plus HTTP on loopback.
"""

from __future__ import annotations

import asyncio
import resource
import sys
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from contracts.drivers import (  # noqa: E402
    AmazonAppCredentials,
    AmazonCredentials,
    AmazonSettings,
    Magento2Credentials,
    Magento2Settings,
    SfccCredentials,
    SfccSettings,
    ShopifyCredentials,
    ShopifySettings,
    Shopware6Credentials,
    Shopware6Settings,
    TradebyteCredentials,
    TradebyteSettings,
)
from services.driver_worker.drivers.base import build_driver  # noqa: E402
from tests.fakes import amazon, magento2, sfcc, shopify, shopware6, tradebyte  # noqa: E402
from tests.fakes.common import FakeMarketplace  # noqa: E402
from tests.fakes.server import BackgroundServer  # noqa: E402


def _cases(url: str) -> dict[str, tuple[Any, Any, dict[str, str]]]:
    return {
        "shopware6": (Shopware6Credentials(url=url, access_key_id=shopware6.CLIENT_ID, secret_access_key=shopware6.CLIENT_SECRET),
                      Shopware6Settings(), {}),
        "shopify": (ShopifyCredentials(shop_domain=shopify.SHOP, access_token=shopify.TOKEN), ShopifySettings(),
                    {"shopify": url + "/{shop}"}),
        "sfcc": (SfccCredentials(instance_url=url, client_id=sfcc.CLIENT_ID, client_password=sfcc.CLIENT_PASSWORD,
                                 bm_username=sfcc.BM_USER, bm_password=sfcc.BM_PASSWORD), SfccSettings(), {}),
        "amazon": (AmazonCredentials(seller_id=amazon.SELLER_ID, marketplace_id=amazon.MARKETPLACE_ID,
                                     refresh_token=amazon.REFRESH_TOKEN), AmazonSettings(),
                   {"amazon_lwa_token_url": url + "/auth/o2/token", "amazon_sp_api": url}),
        "magento2": (Magento2Credentials(base_url=url, username=magento2.USERNAME, password=magento2.PASSWORD),
                     Magento2Settings(), {}),
        "tradebyte": (TradebyteCredentials(hnr=tradebyte.HNR, channel=tradebyte.CHANNEL, rest_username=tradebyte.USERNAME,
                                           rest_password=tradebyte.PASSWORD, sftp_username="ftp", sftp_password="ftp"),
                      TradebyteSettings(attribute_set_tag="product_type"), {"tradebyte": url}),
    }


FAKES: dict[str, type[FakeMarketplace]] = {
    "shopware6": shopware6.FakeShopware6, "shopify": shopify.FakeShopify, "sfcc": sfcc.FakeSfcc,
    "amazon": amazon.FakeAmazon, "magento2": magento2.FakeMagento2, "tradebyte": tradebyte.FakeTradebyte,
}
APP = AmazonAppCredentials(client_id=amazon.CLIENT_ID, client_secret=amazon.CLIENT_SECRET)


async def bench(driver_id: str) -> None:
    fake = FAKES[driver_id]()
    fake.load_large_model()  # type: ignore[attr-defined]
    server = BackgroundServer(fake.app)
    url = server.start()
    waits: list[float] = []

    async def record(delay: float) -> None:
        waits.append(delay)

    async def no_progress(done: int, total: int | None) -> None:
        return None

    try:
        credentials, settings, endpoints = _cases(url)[driver_id]
        async with httpx.AsyncClient(timeout=30.0) as http:
            driver = build_driver(driver_id, http, endpoints, record, amazon_app=APP)
            start = time.perf_counter()
            model = await driver.fetch_model(credentials, settings, no_progress)
            elapsed = time.perf_counter() - start
    finally:
        server.stop()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{driver_id:10} {elapsed:8.2f} s {peak_mb:9.1f} MB  {len(model.attributes):6} attributes "
          f"{len(model.attribute_sets):5} sets {sum(fake.calls.values()):6} requests  waits asked {sum(waits):7.1f} s",
          flush=True)


def main() -> None:
    """Bench the drivers named on the command line, or all of them."""
    print(f"{'driver':10} {'duration':>10} {'peak RSS':>12}")
    for driver_id in sys.argv[1:] or list(FAKES):
        asyncio.run(bench(driver_id))


if __name__ == "__main__":
    main()
