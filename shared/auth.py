"""Who is calling: a principal with a tenant and roles, taken from the bearer token, never from the body."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"


# Each role includes the ones before it.
_RANK = {Role.VIEWER: 1, Role.OPERATOR: 2, Role.ADMIN: 3}


@dataclass(frozen=True)
class Principal:
    tenant_id: str
    actor: str
    roles: frozenset[Role]

    def has(self, role: Role) -> bool:
        return any(_RANK[r] >= _RANK[role] for r in self.roles)


class Unauthenticated(Exception):
    """No token, or a token nobody issued."""


class Forbidden(Exception):
    def __init__(self, role: Role) -> None:
        super().__init__(f"this needs the {role.value} role")
        self.role = role


class StaticTokens:
    """Development and service tokens from settings: ``{token: {"tenant": ..., "roles": [...], "actor": ...}}``."""

    def __init__(self, tokens: dict[str, dict[str, object]]) -> None:
        self._tokens = tokens

    def authenticate(self, authorization: str | None) -> Principal:
        if not authorization or not authorization.lower().startswith("bearer "):
            raise Unauthenticated("a bearer token is required")
        entry = self._tokens.get(authorization[7:].strip())
        if entry is None:
            raise Unauthenticated("unknown or expired token")
        roles = entry.get("roles", [])
        assert isinstance(roles, list)
        return Principal(
            tenant_id=str(entry["tenant"]),
            actor=str(entry.get("actor", "user")),
            roles=frozenset(Role(r) for r in roles),
        )
