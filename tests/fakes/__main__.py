"""Run every fake marketplace as a demo on one loopback port: python -m tests.fakes --port 8900 [--large].

Each fake is mounted under its driver id: http://127.0.0.1:8900/shopware6, /magento2, /sfcc, /amazon,
/shopify, /tradebyte. See tests/fakes/README.md for the credentials they accept.
"""

from __future__ import annotations

import argparse

import uvicorn
from starlette.applications import Starlette
from starlette.routing import Mount

from tests.fakes import amazon, magento2, sfcc, shopify, shopware6, tradebyte
from tests.fakes.common import FakeMarketplace


def build(large: bool = False) -> tuple[Starlette, dict[str, FakeMarketplace]]:
    """The demo app and its fakes by driver id."""
    fakes: dict[str, FakeMarketplace] = {
        "shopware6": shopware6.FakeShopware6(),
        "magento2": magento2.FakeMagento2(),
        "sfcc": sfcc.FakeSfcc(),
        "amazon": amazon.FakeAmazon(),
        "shopify": shopify.FakeShopify(),
        "tradebyte": tradebyte.FakeTradebyte(),
    }
    if large:
        for fake in fakes.values():
            fake.load_large_model()  # type: ignore[attr-defined]
    return Starlette(routes=[Mount(f"/{name}", app=fake.app) for name, fake in fakes.items()]), fakes


def main() -> None:
    """Parse the arguments and serve until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m tests.fakes", description=__doc__)
    parser.add_argument("--port", type=int, default=8900)
    parser.add_argument("--large", action="store_true", help="serve the 10,000-attribute models")
    args = parser.parse_args()
    app, fakes = build(args.large)
    base = f"http://127.0.0.1:{args.port}"
    for name in fakes:
        print(f"{name:10} {base}/{name}")
    # Loopback only: these are test doubles, not services.
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", log_config=None)


if __name__ == "__main__":
    main()
