"""Tradebyte (TB.One REST) driver: the data model derived from a full TB.Cat XML export.

Tradebyte has no attribute-definition endpoint, so the model is what the products use:
- `P_COMPONENT[key]` -> text attribute "component.<key>" (label: its `name`),
- `P_TAG[key]` with `VALUES/VALUE[key]` -> select attribute "tag.<key>" (options: the values seen;
  multi-valued if any product has several),
- `P_VARIANTFIELDS/P_VARIANTFIELD[key]` with the articles' `A_VARIANTDATA/A_VARIANT[key]` -> select
  attribute "variant.<key>" (options: the variant values seen).
There are no attribute sets either: with `attribute_set_tag` set, products are grouped by that tag's
value (set = the attributes its products use); without it, one set "products" holds everything.

House rules: calls are sequential per account, a 4xx is never repeated, a 5xx is repeated no sooner
than 10 minutes and at most 5 times, and a full export at most once a day.
"""

from __future__ import annotations

import asyncio
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Final, cast

import httpx

from contracts.datamodel import Attribute, AttributeOption, AttributeSet, AttributeType, DataModel
from contracts.drivers import TradebyteCredentials, TradebyteSettings
from services.driver_worker.domain.errors import CredentialsRejected, PermanentFailure, TransientFailure
from services.driver_worker.drivers.base import Clock, Progress, RetryPolicy, Sleep, distill, fingerprint, send_with_retry

VENDOR: Final = "Tradebyte"
XML_LANG: Final = "{http://www.w3.org/XML/1998/namespace}lang"
MIN_RETRY_DELAY: Final = 600.0
MAX_RETRIES: Final = 5
FULL_PULL_INTERVAL: Final = 24 * 3600.0


@dataclass(slots=True)
class _Field:
    kind: str
    label: dict[str, str]
    options: dict[str, dict[str, str]] = field(default_factory=dict)
    multi: bool = False


@dataclass(slots=True)
class _Catalog:
    """Accumulates the model while the export streams by, one PRODUCT element at a time."""

    set_tag: str | None
    fields: dict[str, _Field] = field(default_factory=dict)
    sets: dict[str, dict[str, None]] = field(default_factory=dict)
    products: int = 0

    def add_product(self, product: ET.Element) -> None:
        used: dict[str, None] = {}
        set_codes: list[str] = []
        for comp in product.iterfind("P_COMPONENTDATA/P_COMPONENT"):
            key = comp.get("key") or comp.get("identifier")
            if key:
                self._field(f"component.{key}", "component", comp.get("name") or key)
                used[f"component.{key}"] = None
        for tag in product.iterfind("P_TAGS/P_TAG"):
            key = tag.get("key")
            if not key:
                continue
            spec = self._field(f"tag.{key}", "tag", key)
            values = [v.get("key") or (v.text or "").strip() for v in tag.iterfind("VALUES/VALUE")]
            values = [v for v in values if v]
            spec.multi = spec.multi or len(values) > 1
            for value in values:
                spec.options.setdefault(value, {"default": value})
            used[f"tag.{key}"] = None
            if key == self.set_tag:
                set_codes.extend(values)
        for variant_field in product.iterfind("P_VARIANTFIELDS/P_VARIANTFIELD"):
            key = variant_field.get("key")
            if key:
                self._field(f"variant.{key}", "variant", (variant_field.text or "").strip() or key)
                used[f"variant.{key}"] = None
        for variant in product.iterfind("ARTICLEDATA/ARTICLE/A_VARIANTDATA/A_VARIANT"):
            key = variant.get("key")
            if not key:
                continue
            spec = self._field(f"variant.{key}", "variant", key)
            labels = {v.get(XML_LANG) or "default": (v.text or "").strip() for v in variant.iterfind("VALUE")}
            code = next(iter(labels.values()), "") or (variant.text or "").strip()
            if code:
                spec.options.setdefault(code, labels or {"default": code})
            used[f"variant.{key}"] = None
        for set_code in set_codes if self.set_tag else ["products"]:
            self.sets.setdefault(set_code, {}).update(used)
        self.products += 1

    def _field(self, code: str, kind: str, label: str) -> _Field:
        spec = self.fields.get(code)
        if spec is None:
            spec = self.fields[code] = _Field(kind, {"default": label})
        return spec

    def model(self) -> DataModel:
        attributes = tuple(
            Attribute(
                code=code,
                labels=spec.label,
                type=AttributeType.TEXT if spec.kind == "component" else (
                    AttributeType.MULTISELECT if spec.multi else AttributeType.SELECT
                ),
                options=tuple(AttributeOption(code=c, labels=lb) for c, lb in spec.options.items()),
                multi_value=spec.multi,
            )
            for code, spec in self.fields.items()
        )
        sets = tuple(AttributeSet(code=c, labels={"default": c}, attribute_codes=tuple(m)) for c, m in self.sets.items())
        return DataModel(attributes=attributes, attribute_sets=sets)


def _vendor_message(response: httpx.Response) -> str:
    # The error body is undocumented XML: take its text, whatever the elements.
    try:
        root = ET.fromstring(response.content)
        text = " ".join(t.strip() for t in root.itertext() if t.strip())
    except ET.ParseError:
        text = response.text
    return distill(text or response.reason_phrase, 200)


class TradebyteDriver:
    """Reads TB.Cat exports from {base}/{HNR}/products/?channel=... with HTTP Basic."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str,
        test_url: str,
        sleep: Sleep,
        min_retry_delay: float = MIN_RETRY_DELAY,
        max_retries: int = MAX_RETRIES,
        full_pull_interval: float = FULL_PULL_INTERVAL,
        clock: Clock = time.monotonic,
    ) -> None:
        self._http = http
        self._base_url = base_url
        self._test_url = test_url
        self._sleep = sleep
        # 5xx only: a 4xx (429 included) must never be repeated.
        self._policy = RetryPolicy(
            max_retries=max_retries, base_delay=min_retry_delay, multiplier=1.0, max_delay=min_retry_delay,
            min_delay=min_retry_delay, max_retry_after=max(3600.0, min_retry_delay),
            retry_statuses=frozenset({500, 502, 503, 504}),
        )
        self._full_pull_interval = full_pull_interval
        self._clock = clock
        self._locks: dict[str, asyncio.Lock] = {}
        self._last_full_pull: dict[str, float] = {}

    async def check_credentials(self, credentials: TradebyteCredentials, settings: TradebyteSettings) -> None:
        """Ask for a delta export since now: an empty answer that still needs valid credentials."""
        # (unverified) `delta` as the parameter of the delta export (a Unix timestamp).
        await self._export(credentials, {"delta": str(int(time.time()))}, _Catalog(None), None)

    async def fetch_model(self, credentials: TradebyteCredentials, settings: TradebyteSettings, progress: Progress) -> DataModel:
        """Stream the full export of the channel and derive the model from its products."""
        key = self._key(credentials)
        last = self._last_full_pull.get(key)
        if last is not None and self._clock() - last < self._full_pull_interval:
            wait = self._full_pull_interval - (self._clock() - last)
            raise TransientFailure(
                f"{VENDOR} allows one full export a day; the next is possible in {wait / 3600:.1f} h",
                type="rate_limited", retry_after=wait,
            )
        catalog = _Catalog(settings.attribute_set_tag)
        await self._export(credentials, {}, catalog, progress)
        self._last_full_pull[key] = self._clock()
        return catalog.model()

    async def clean_up(self, credentials: TradebyteCredentials, settings: TradebyteSettings) -> None:
        """Forget the account's full-export time; Basic auth leaves nothing to revoke."""
        self._last_full_pull.pop(self._key(credentials), None)

    @staticmethod
    def _key(credentials: TradebyteCredentials) -> str:
        return fingerprint(credentials.hnr, credentials.channel, str(credentials.test_api))

    async def _export(
        self, credentials: TradebyteCredentials, params: Mapping[str, str], catalog: _Catalog, progress: Progress | None
    ) -> None:
        base = self._test_url if credentials.test_api else self._base_url
        url = f"{base}/{credentials.hnr}/products/"
        auth = httpx.BasicAuth(credentials.rest_username, credentials.rest_password.get_secret_value())
        request = self._http.build_request("GET", url, params={"channel": credentials.channel, **params})
        # One call at a time per account, across every job this worker runs.
        async with self._locks.setdefault(credentials.hnr, asyncio.Lock()):
            response = await send_with_retry(
                lambda: self._http.send(request, auth=auth, stream=True),
                vendor=VENDOR, policy=self._policy, sleep=self._sleep,
            )
            try:
                if response.status_code != 200:
                    await response.aread()
                    raise self._refusal(response)
                await self._parse(response, catalog, progress)
            finally:
                await response.aclose()

    @staticmethod
    def _refusal(response: httpx.Response) -> Exception:
        message = _vendor_message(response)
        if response.status_code in (401, 403):
            return CredentialsRejected(f"{VENDOR} refused the API user ({response.status_code}): {message}")
        if response.status_code == 404:
            return CredentialsRejected(f"{VENDOR} knows no such account number or channel: {message}")
        if response.status_code == 429:
            # Never repeated at once (house rule); the job may run again later.
            return TransientFailure(f"{VENDOR} is limiting our requests: {message}", type="rate_limited")
        return PermanentFailure(f"{VENDOR} answered {response.status_code}: {message}", type="bad_answer")

    @staticmethod
    async def _parse(response: httpx.Response, catalog: _Catalog, progress: Progress | None) -> None:
        # Streamed: a full export can be far larger than memory should hold at once.
        parser = ET.XMLPullParser(events=("end",))
        try:
            async for chunk in response.aiter_bytes():
                parser.feed(chunk)
                before = catalog.products
                # Only "end" events were asked for: each one carries an Element.
                for _, element in cast(Iterator[tuple[str, object]], parser.read_events()):
                    if isinstance(element, ET.Element) and element.tag == "PRODUCT":
                        catalog.add_product(element)
                        element.clear()
                if progress is not None and catalog.products != before:
                    await progress(catalog.products, None)
            parser.close()
        except ET.ParseError as exc:
            raise PermanentFailure(f"{VENDOR} sent an export that is not well-formed XML ({exc})", type="bad_answer") from None
        except httpx.TransportError:
            raise TransientFailure(f"{VENDOR} broke off the export", type="unavailable") from None
