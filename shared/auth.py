"""Who is calling: a principal with a tenant and roles, taken from the bearer token, never from the body.

Three kinds of caller:

- people and dashboards over HTTP with a **JWT** from the platform's identity provider, verified against the
  configured public keys (PEM and/or a JWKS document), issuer, audience and expiry (with clock-skew leeway);
  the tenant and roles are claims of the token (claim names in :class:`JwtConfig`);
- scripts and development over HTTP with a **static API token** from settings;
- **platform services on the bus**, named by the envelope's ``actor``; settings map each actor to its roles
  and, optionally, to the tenants it may act for (:class:`BusActors`).

Tenant roles are ranked: ``viewer`` < ``operator`` < ``admin``; each includes the ones before it. The
``platform-operator`` role stands apart: it is for work on every tenant at once (rebuilding a view), no tenant
role includes it and it includes none of them.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key


class Role(StrEnum):
    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"
    PLATFORM_OPERATOR = "platform-operator"  # platform-wide operations; not a tenant role, not ranked


# Each tenant role includes the ones before it.
_RANK = {Role.VIEWER: 1, Role.OPERATOR: 2, Role.ADMIN: 3}
_TENANT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")  # contracts.envelope.TENANT_ID_PATTERN


@dataclass(frozen=True)
class Principal:
    tenant_id: str
    actor: str
    roles: frozenset[Role]

    def has(self, role: Role) -> bool:
        if role not in _RANK:  # an unranked role is held only when granted itself
            return role in self.roles
        return any(_RANK.get(r, 0) >= _RANK[role] for r in self.roles)


class Unauthenticated(Exception):
    """No token, or a token nobody issued (bad signature, expired, wrong issuer or audience, ...)."""


class Forbidden(Exception):
    """An authenticated caller without the role (or the tenant) the request needs."""

    def __init__(self, role: Role, message: str | None = None) -> None:
        super().__init__(message or f"this needs the {role.value} role")
        self.role = role


class Authenticator(Protocol):
    """Turns an ``Authorization`` header into a principal or raises :class:`Unauthenticated` with the reason."""

    def authenticate(self, authorization: str | None) -> Principal: ...


def _roles(values: Iterable[object]) -> frozenset[Role]:
    """Known role names; unknown ones are ignored (an identity provider may issue roles of other products)."""
    known = {r.value for r in Role}
    return frozenset(Role(v) for v in values if isinstance(v, str) and v in known)


def bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise Unauthenticated("a bearer token is required (Authorization: Bearer <token>)")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("the Authorization header must be 'Bearer <token>'")
    return token.strip()


class StaticTokens:
    """Development and script tokens from settings: ``{token: {"tenant": ..., "roles": [...], "actor": ...}}``."""

    def __init__(self, tokens: Mapping[str, Mapping[str, object]]) -> None:
        self._tokens = {
            token.encode(): Principal(
                tenant_id=str(entry["tenant"]),
                actor=str(entry.get("actor", "user")),
                roles=_roles(entry.get("roles", []) if isinstance(entry.get("roles"), list) else []),  # type: ignore[arg-type]
            )
            for token, entry in tokens.items()
        }

    def lookup(self, token: str) -> Principal | None:
        """The token's principal; compared in constant time so response times tell nothing about tokens."""
        given = token.encode()
        found = None
        for known, principal in self._tokens.items():
            if hmac.compare_digest(known, given):
                found = principal
        return found

    def authenticate(self, authorization: str | None) -> Principal:
        principal = self.lookup(bearer_token(authorization))
        if principal is None:
            raise Unauthenticated("unknown token")
        return principal


# --- JWT ------------------------------------------------------------------------------------------------

ASYMMETRIC_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA")


@dataclass(frozen=True)
class JwtConfig:
    """How bearer JWTs are verified and read.

    Claims: ``iss`` must equal ``issuer``, ``aud`` must contain ``audience``, ``exp`` and ``sub`` are required
    (``sub`` is the actor recorded on events), ``nbf``/``iat`` are checked when present; ``leeway`` seconds of
    clock skew are tolerated. ``tenant_claim`` (default ``tenant_id``) names the tenant; ``roles_claim``
    (default ``roles``) the roles, a list or a space-separated string of ``viewer``, ``operator``, ``admin``.
    """

    issuer: str
    audience: str
    public_keys: tuple[str, ...] = ()
    jwks: Mapping[str, Any] | None = None
    algorithms: tuple[str, ...] = ("RS256", "ES256", "EdDSA")
    leeway: float = 60.0
    tenant_claim: str = "tenant_id"
    roles_claim: str = "roles"


@dataclass(frozen=True)
class _Key:
    key: Any
    algorithms: frozenset[str]
    kid: str | None = None


def _algorithms_for(public_key: Any) -> frozenset[str]:
    if isinstance(public_key, rsa.RSAPublicKey):
        return frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return frozenset({{"secp256r1": "ES256", "secp384r1": "ES384"}.get(public_key.curve.name, "")} - {""})
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return frozenset({"EdDSA"})
    return frozenset()


def _load_keys(config: JwtConfig) -> list[_Key]:
    keys: list[_Key] = []
    for pem in config.public_keys:
        public_key = load_pem_public_key(pem.encode())
        algorithms = _algorithms_for(public_key)
        if not algorithms:
            raise ValueError(f"unsupported JWT public key type {type(public_key).__name__}")
        keys.append(_Key(public_key, algorithms))
    if config.jwks:
        for jwk in jwt.PyJWKSet.from_dict(dict(config.jwks)).keys:
            if jwk.public_key_use not in (None, "sig"):
                continue
            algorithms = _algorithms_for(jwk.key)
            if jwk.algorithm_name and jwk.algorithm_name in ASYMMETRIC_ALGORITHMS:
                algorithms &= {jwk.algorithm_name}
            if algorithms:
                keys.append(_Key(jwk.key, algorithms, jwk.key_id))
    return keys


class JwtTokens:
    """Verifies bearer JWTs (RS256/ES256/EdDSA and friends; never ``none`` or HMAC) and reads their claims."""

    def __init__(self, config: JwtConfig) -> None:
        unsupported = set(config.algorithms) - set(ASYMMETRIC_ALGORITHMS)
        if unsupported:
            raise ValueError(f"JWT algorithms must be asymmetric; not supported: {sorted(unsupported)}")
        self.config = config
        self._keys = _load_keys(config)
        if not self._keys:
            raise ValueError("JWT verification needs at least one public key (PEM or JWKS)")

    def authenticate(self, authorization: str | None) -> Principal:
        return self.verify(bearer_token(authorization))

    def verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthenticated("malformed token") from None
        algorithm = header.get("alg")
        if not isinstance(algorithm, str) or algorithm not in self.config.algorithms:
            raise Unauthenticated(f"token algorithm {str(algorithm)[:20]!r} is not accepted")
        kid = header.get("kid")
        candidates = [k for k in self._keys if algorithm in k.algorithms]
        if isinstance(kid, str) and any(k.kid == kid for k in candidates):
            candidates = [k for k in candidates if k.kid == kid]
        claims = self._decode(token, algorithm, candidates)
        return self._principal(claims)

    def _decode(self, token: str, algorithm: str, candidates: list[_Key]) -> dict[str, Any]:
        for candidate in candidates:
            try:
                claims: dict[str, Any] = jwt.decode(
                    token, candidate.key, algorithms=[algorithm], audience=self.config.audience,
                    issuer=self.config.issuer, leeway=self.config.leeway,
                    options={"require": ["exp", "iss", "aud", "sub"]},
                )
                return claims
            except jwt.InvalidSignatureError:
                continue
            except jwt.ExpiredSignatureError:
                raise Unauthenticated("token expired") from None
            except jwt.ImmatureSignatureError:
                raise Unauthenticated("token not valid yet") from None
            except jwt.InvalidAudienceError:
                raise Unauthenticated("token is meant for another audience") from None
            except jwt.InvalidIssuerError:
                raise Unauthenticated("token from an unknown issuer") from None
            except jwt.MissingRequiredClaimError as missing:
                raise Unauthenticated(f"token lacks the {missing.claim!r} claim") from None
            except jwt.PyJWTError as invalid:
                raise Unauthenticated(f"invalid token ({type(invalid).__name__})") from None
        raise Unauthenticated("token signature matches no configured key")

    def _principal(self, claims: dict[str, Any]) -> Principal:
        tenant = claims.get(self.config.tenant_claim)
        if not isinstance(tenant, str) or not _TENANT.match(tenant):
            raise Unauthenticated(f"token has no valid {self.config.tenant_claim!r} claim")
        raw_roles = claims.get(self.config.roles_claim, [])
        values = raw_roles.split() if isinstance(raw_roles, str) else raw_roles if isinstance(raw_roles, list) else []
        return Principal(tenant_id=tenant, actor=str(claims["sub"])[:200], roles=_roles(values))


@dataclass(frozen=True)
class BearerAuth:
    """The HTTP authenticator: static tokens first, then JWTs when configured."""

    static: StaticTokens
    jwt: JwtTokens | None = None

    def authenticate(self, authorization: str | None) -> Principal:
        token = bearer_token(authorization)
        principal = self.static.lookup(token)
        if principal is not None:
            return principal
        if self.jwt is not None and token.count(".") == 2:
            return self.jwt.verify(token)
        raise Unauthenticated("unknown token")


# --- bus senders ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BusActor:
    roles: frozenset[Role]
    tenants: frozenset[str] | None = field(default=None)  # None: any tenant


class BusActors:
    """Platform services allowed to send commands, by the envelope's ``actor``.

    From settings: ``{"orders-service": {"roles": ["operator"], "tenants": ["acme", "acme-sandbox"]}}``;
    ``tenants`` is optional (any tenant when left out). Kafka authenticates the producers; ACLs on the
    commands topic decide who may write there at all, this decides what each named sender may do.
    """

    def __init__(self, actors: Mapping[str, Mapping[str, object]]) -> None:
        self._actors: dict[str, BusActor] = {}
        for name, entry in actors.items():
            roles = entry.get("roles", [])
            tenants = entry.get("tenants")
            self._actors[name] = BusActor(
                roles=_roles(roles if isinstance(roles, list) else []),
                tenants=frozenset(str(t) for t in tenants) if isinstance(tenants, list) else None,
            )

    def authorize(self, actor: str, tenant_id: str, role: Role) -> Principal:
        """The sender as a principal for ``tenant_id``; :class:`Forbidden` naming the missing role otherwise."""
        entry = self._actors.get(actor)
        if entry is None:
            raise Forbidden(role, f"sender {actor[:100]!r} is not a known bus actor; this needs the {role.value} role")
        if entry.tenants is not None and tenant_id not in entry.tenants:
            raise Forbidden(role, f"sender {actor[:100]!r} may not act for tenant {tenant_id!r}")
        principal = Principal(tenant_id=tenant_id, actor=actor, roles=entry.roles)
        if not principal.has(role):
            raise Forbidden(role, f"sender {actor[:100]!r} lacks the {role.value} role this command needs")
        return principal
