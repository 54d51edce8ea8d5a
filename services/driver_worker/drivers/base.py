"""The driver port, and what every driver shares: retries with backoff, token caching, rate pacing.

A driver talks to one marketplace over HTTP. The worker builds one with `build_driver` and calls the three
jobs of the `Driver` protocol; every failure comes out as a `DriverError` subclass.
"""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import ipaddress
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Protocol, TypeVar

import httpx
from pydantic import BaseModel

from contracts.datamodel import DataModel
from contracts.drivers import AmazonAppCredentials
from services.driver_worker.domain.errors import CredentialsRejected, DriverError, PermanentFailure, TransientFailure

Progress = Callable[[int, "int | None"], Awaitable[None]]
"""Called as pages arrive: (records received so far, total records if known)."""

Sleep = Callable[[float], Awaitable[None]]
"""`asyncio.sleep` in production; tests pass a recorder so backoff costs no real time."""

Clock = Callable[[], float]

CredT_contra = TypeVar("CredT_contra", bound=BaseModel, contravariant=True)
SetT_contra = TypeVar("SetT_contra", bound=BaseModel, contravariant=True)


class Driver(Protocol[CredT_contra, SetT_contra]):
    """Port to one marketplace: check credentials, mirror its product data model, clean up."""

    async def check_credentials(self, credentials: CredT_contra, settings: SetT_contra) -> None:
        """Return if the marketplace accepts the credentials; raise a `DriverError` otherwise."""

    async def fetch_model(
        self, credentials: CredT_contra, settings: SetT_contra, progress: Progress
    ) -> DataModel:
        """Read the whole product data model (attributes and attribute sets), reporting progress by page."""

    async def clean_up(self, credentials: CredT_contra, settings: SetT_contra) -> None:
        """Forget everything held for these credentials (tokens, caches); idempotent."""


async def no_progress(done: int, total: int | None) -> None:
    """A `Progress` that ignores reports."""


# --- retries -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently to repeat a request the marketplace could not serve right now."""

    max_retries: int = 4
    base_delay: float = 1.0
    multiplier: float = 2.0
    max_delay: float = 60.0
    # A floor for every wait (Tradebyte: a 5xx may be repeated no sooner than 10 minutes).
    min_delay: float = 0.0
    # A longer Retry-After ends the job instead of holding a worker slot; the worker reschedules it.
    max_retry_after: float = 900.0
    retry_statuses: frozenset[int] = frozenset({429, 500, 502, 503, 504})

    def backoff(self, retry: int) -> float:
        """Wait before retry number `retry` (0-based) when the marketplace gave no hint."""
        return max(self.min_delay, min(self.max_delay, self.base_delay * self.multiplier**retry))


ThrottleProbe = Callable[[httpx.Response], "float | None"]
"""Tells from a response that is not a plain 429/5xx that it was throttled, and how long to wait."""


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date); None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    return max(0.0, seconds) if math.isfinite(seconds) else None


async def send_with_retry(
    send: Callable[[], Awaitable[httpx.Response]],
    *,
    vendor: str,
    policy: RetryPolicy,
    sleep: Sleep,
    throttled: ThrottleProbe | None = None,
) -> httpx.Response:
    """Send a request until it is not throttled nor transiently failing, within `policy`.

    Retries timeouts, connection errors, `policy.retry_statuses` and whatever `throttled` recognises,
    waiting what the marketplace asked for (Retry-After) or else an exponential backoff. Any other
    response is returned for the caller to judge. Raises `TransientFailure` when the retries run out.
    """
    retry = 0
    while True:
        hint: float | None = None
        try:
            response = await send()
        except httpx.TimeoutException:
            reason = "did not answer in time"
        except httpx.TransportError as exc:
            reason = f"could not be reached ({type(exc).__name__})"
        else:
            probe = throttled(response) if throttled is not None else None
            if probe is None and response.status_code not in policy.retry_statuses:
                return response
            hint = parse_retry_after(response.headers.get("Retry-After"))
            if hint is None:
                hint = probe
            if probe is not None or response.status_code == 429:
                reason = "is throttling our requests"
            else:
                reason = f"answered {response.status_code} {response.reason_phrase}".rstrip()
            await response.aclose()
        delay = max(policy.min_delay, hint) if hint is not None else policy.backoff(retry)
        if retry >= policy.max_retries:
            raise TransientFailure(
                f"{vendor} {reason}; gave up after {retry + 1} attempts", type="unavailable", retry_after=hint
            )
        if delay > policy.max_retry_after:
            raise TransientFailure(
                f"{vendor} {reason} and asked us to wait {delay:.0f} s", type="unavailable", retry_after=delay
            )
        await sleep(delay)
        retry += 1


# --- tokens and pacing ---------------------------------------------------------------------------------


def fingerprint(*parts: str) -> str:
    """A cache key for credentials that holds no secret in clear."""
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


@dataclass(slots=True)
class _Token:
    value: str
    expires_at: float


@dataclass(slots=True)
class TokenCache:
    """Access tokens by credentials fingerprint, renewed shortly before they expire.

    One fetch at a time per key: token routes are rate limited (Shopware: 10 a minute per IP), so
    concurrent jobs of one connection must share a token rather than each ask for one.
    """

    clock: Clock = time.monotonic
    # Renew this long before the announced expiry, so a token never dies mid-request.
    skew: float = 60.0
    _tokens: dict[str, _Token] = field(default_factory=dict)
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)

    async def get(self, key: str, fetch: Callable[[], Awaitable[tuple[str, float]]]) -> str:
        """The cached token for `key`, or a new one from `fetch` -> (token, lifetime in seconds)."""
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            token = self._tokens.get(key)
            if token is not None and token.expires_at > self.clock():
                return token.value
            value, lifetime = await fetch()
            self._tokens[key] = _Token(value, self.clock() + max(0.0, lifetime - self.skew))
            return value

    def drop(self, key: str) -> None:
        """Forget the token of `key` (rejected, or the connection is being deleted)."""
        self._tokens.pop(key, None)
        self._locks.pop(key, None)


class TokenClient:
    """What every driver with bearer tokens shares: its HTTP client, retry policy, sleep and token cache."""

    def __init__(
        self, http: httpx.AsyncClient, *, sleep: Sleep, policy: RetryPolicy | None = None, tokens: TokenCache | None = None
    ) -> None:
        self._http = http
        self._sleep = sleep
        self._policy = policy or RetryPolicy()
        self._tokens = tokens or TokenCache()

    async def _send_with_token(
        self,
        key: str,
        fetch: Callable[[], Awaitable[tuple[str, float]]],
        send: Callable[[str], Awaitable[httpx.Response]],
        *,
        vendor: str,
        renew_on: tuple[int, ...] = (401,),
    ) -> httpx.Response:
        """Send with the cached token (retrying throttling and transient failures); an answer in ``renew_on``
        on a cached token usually means it expired early or was revoked, so a new one is fetched, once."""
        for attempt in range(2):
            token = await self._tokens.get(key, fetch)
            response = await send_with_retry(lambda: send(token), vendor=vendor, policy=self._policy,
                                             sleep=self._sleep)
            if response.status_code in renew_on and attempt == 0:
                self._tokens.drop(key)
                continue
            return response
        raise AssertionError("unreachable")

    async def _token_answer(
        self,
        send: Callable[[], Awaitable[httpx.Response]],
        *,
        vendor: str,
        what: str,
        message: Callable[[httpx.Response], str],
        refusal: Callable[[str], str],
    ) -> Any:
        """The JSON a token route answers (throttling and transient failures retried first).

        400/401/403 -> ``CredentialsRejected(refusal(vendor's message))``; any other failure -> `unexpected`.
        """
        response = await send_with_retry(send, vendor=vendor, policy=self._policy, sleep=self._sleep)
        if response.status_code in (400, 401, 403):
            raise CredentialsRejected(refusal(message(response)))
        if response.status_code != 200:
            raise unexpected(vendor, what, response, message(response))
        return json_body(response, vendor)


def judged_json(response: httpx.Response, vendor: str, what: str, refused: str, detail: str | None) -> Any:
    """The JSON of a 200 answer; 401/403 -> ``CredentialsRejected(refused)``; anything else -> `unexpected`."""
    if response.status_code in (401, 403):
        raise CredentialsRejected(refused)
    if response.status_code != 200:
        raise unexpected(vendor, what, response, detail)
    return json_body(response, vendor)


@dataclass(slots=True)
class RateLimiter:
    """Paces requests to `rate` per second with bursts of `burst` (generic cell rate algorithm).

    Time advances by what it slept as well as by the clock, so an injected no-wait sleep in tests
    still yields the waits the real marketplace would need.
    """

    rate: float
    burst: int
    sleep: Sleep
    clock: Clock = time.monotonic
    _tat: float = -math.inf
    _now: float = -math.inf
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def acquire(self) -> None:
        """Wait until one more request fits the rate."""
        interval = 1.0 / self.rate
        async with self._lock:
            now = max(self.clock(), self._now)
            tat = max(self._tat, now)
            wait = tat - (self.burst - 1) * interval - now
            if wait > 0:
                await self.sleep(wait)
                now += wait
            self._now = now
            self._tat = tat + interval


# --- reading answers -----------------------------------------------------------------------------------


def distill(text: object, limit: int = 300) -> str:
    """A vendor message made fit for a person: one line, bounded length."""
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def json_body(response: httpx.Response, vendor: str) -> Any:
    """The JSON of a response; a `PermanentFailure` if the marketplace sent something else."""
    try:
        return response.json()
    except ValueError:
        raise PermanentFailure(
            f"{vendor} sent an answer that is not JSON (status {response.status_code})", type="bad_answer"
        ) from None


def unexpected(vendor: str, what: str, response: httpx.Response, detail: str | None = None) -> DriverError:
    """The error for an answer a driver has no better rule for."""
    said = f": {distill(detail)}" if detail else ""
    if response.status_code in (401, 403):
        return CredentialsRejected(f"{vendor} refused access to {what} ({response.status_code}){said}")
    return PermanentFailure(f"{vendor} answered {response.status_code} to {what}{said}", type="bad_answer")


# --- the factory ---------------------------------------------------------------------------------------

DEFAULT_ENDPOINTS: Final[Mapping[str, str]] = {
    # "{shop}" is replaced by the shop's myshopify domain.
    "shopify": "https://{shop}",
    "amazon_lwa_token_url": "https://api.amazon.com/auth/o2/token",
    # Empty: the regional SP-API host is derived from the marketplace id.
    "amazon_sp_api": "",
    "tradebyte": "https://rest.trade-server.net",
    # (unverified) DRIVERS.md names no separate test host; the toggle selects this override.
    "tradebyte_test": "https://rest.trade-server.net",
}


def _check_endpoint(name: str, url: str) -> str:
    parsed = httpx.URL(url.replace("{shop}", "shop"))
    host = parsed.host
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if parsed.scheme != "https" and not (parsed.scheme == "http" and loopback):
        raise ValueError(f"endpoint {name} must be https, or http on loopback")
    return url.rstrip("/")


def build_driver(
    driver_id: str,
    http: httpx.AsyncClient,
    endpoints: Mapping[str, str] | None = None,
    sleep: Sleep = asyncio.sleep,
    *,
    amazon_app: AmazonAppCredentials | None = None,
) -> Driver[Any, Any]:
    """The driver for `driver_id`, sending through `http`.

    `endpoints` overrides the fixed vendor hosts (keys of `DEFAULT_ENDPOINTS`), e.g. to reach fakes on
    loopback; shops whose URL is part of the credentials are reached there. `amazon_app` is the
    platform's LWA app client, needed by the Amazon driver only.
    """
    urls = {k: _check_endpoint(k, v) if v else v for k, v in {**DEFAULT_ENDPOINTS, **(endpoints or {})}.items()}
    # Imported here: the driver modules import this one.
    if driver_id == "shopware6":
        from services.driver_worker.drivers.shopware6 import Shopware6Driver

        return Shopware6Driver(http, sleep=sleep)
    if driver_id == "shopify":
        from services.driver_worker.drivers.shopify import ShopifyDriver

        return ShopifyDriver(http, base_url=urls["shopify"], sleep=sleep)
    if driver_id == "sfcc":
        from services.driver_worker.drivers.sfcc import SfccDriver

        return SfccDriver(http, sleep=sleep)
    if driver_id == "amazon":
        from services.driver_worker.drivers.amazon import AmazonDriver

        return AmazonDriver(
            http, app=amazon_app, lwa_url=urls["amazon_lwa_token_url"], sp_api_url=urls["amazon_sp_api"], sleep=sleep
        )
    if driver_id == "magento2":
        from services.driver_worker.drivers.magento2 import Magento2Driver

        return Magento2Driver(http, sleep=sleep)
    if driver_id == "tradebyte":
        from services.driver_worker.drivers.tradebyte import TradebyteDriver

        return TradebyteDriver(http, base_url=urls["tradebyte"], test_url=urls["tradebyte_test"], sleep=sleep)
    if driver_id == "pos":
        from services.driver_worker.drivers.pos import PosDriver

        return PosDriver()
    raise KeyError(f"unknown driver id {driver_id!r}")
