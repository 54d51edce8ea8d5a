"""Bearer JWTs verified against configured keys, issuer, audience and expiry; static tokens for development;
tenant and roles from the token, never from the body; 401 with the reason, 403 naming the missing role."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from fastapi.testclient import TestClient

from services.connections.entrypoints.http import create_app
from shared.auth import BearerAuth, JwtConfig, JwtTokens, Role, StaticTokens, Unauthenticated
from shared.http import authenticator_from
from shared.settings import Settings
from tests.security.conftest import TENANT_A, TOKENS, WriteSide

ISSUER = "https://id.example.test/"
AUDIENCE = "omni-connections"
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
ED_KEY = ed25519.Ed25519PrivateKey.generate()
STRANGER = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ALGORITHM = {id(RSA_KEY): "RS256", id(EC_KEY): "ES256", id(ED_KEY): "EdDSA", id(STRANGER): "RS256"}


def pem(private_key: Any) -> str:
    return private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {"iss": ISSUER, "aud": AUDIENCE, "sub": "alice@acme", "iat": now, "exp": now + 300,
            "tenant_id": TENANT_A, "roles": ["operator"]}
    return {k: v for k, v in {**base, **overrides}.items() if v is not None}


def sign(private_key: Any = RSA_KEY, headers: dict[str, Any] | None = None, **overrides: Any) -> str:
    return jwt.encode(claims(**overrides), private_key, algorithm=ALGORITHM[id(private_key)], headers=headers)


def hs256(payload: dict[str, Any], secret: bytes) -> str:
    """A token MACed with ``secret`` (PyJWT refuses to sign with a PEM; an attacker would not)."""
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
    signing_input = b64(b'{"alg":"HS256","typ":"JWT"}') + "." + b64(json.dumps(payload).encode())
    return signing_input + "." + b64(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())


def verifier(**config: Any) -> JwtTokens:
    base: dict[str, Any] = {"issuer": ISSUER, "audience": AUDIENCE, "public_keys": (pem(RSA_KEY), pem(EC_KEY), pem(ED_KEY))}
    return JwtTokens(JwtConfig(**{**base, **config}))


@pytest.mark.parametrize("key", [RSA_KEY, EC_KEY, ED_KEY], ids=["RS256", "ES256", "EdDSA"])
def test_a_jwt_signed_by_a_configured_key_gives_the_tenant_and_roles_of_its_claims(key: Any) -> None:
    principal = verifier().verify(sign(key, roles=["viewer", "admin", "superuser"]))

    assert principal.tenant_id == TENANT_A
    assert principal.actor == "alice@acme"
    assert principal.roles == {Role.VIEWER, Role.ADMIN}  # unknown roles are ignored


def test_roles_may_be_a_space_separated_string_and_claim_names_are_configurable() -> None:
    token = sign(org="acme-sandbox", perms="viewer operator", tenant_id=None, roles=None)

    principal = verifier(tenant_claim="org", roles_claim="perms").verify(token)

    assert (principal.tenant_id, principal.roles) == ("acme-sandbox", {Role.VIEWER, Role.OPERATOR})


def test_keys_from_a_jwks_document_are_chosen_by_kid() -> None:
    jwks = {"keys": [
        {**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(STRANGER.public_key())), "kid": "old", "use": "sig"},
        {**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(RSA_KEY.public_key())), "kid": "current", "alg": "RS256"},
        {**json.loads(jwt.algorithms.ECAlgorithm.to_jwk(EC_KEY.public_key())), "kid": "ec"},
    ]}
    tokens = JwtTokens(JwtConfig(issuer=ISSUER, audience=AUDIENCE, jwks=jwks))

    assert tokens.verify(sign(RSA_KEY, headers={"kid": "current"})).tenant_id == TENANT_A
    assert tokens.verify(sign(EC_KEY, headers={"kid": "ec"})).tenant_id == TENANT_A
    assert tokens.verify(sign(STRANGER, headers={"kid": "old"})).tenant_id == TENANT_A
    with pytest.raises(Unauthenticated, match="matches no configured key"):
        tokens.verify(sign(STRANGER, headers={"kid": "current"}))


def test_clock_skew_within_the_leeway_is_tolerated_beyond_it_the_token_expired() -> None:
    now = int(time.time())
    assert verifier(leeway=60).verify(sign(exp=now - 30)).tenant_id == TENANT_A
    assert verifier(leeway=60).verify(sign(nbf=now + 30)).tenant_id == TENANT_A
    with pytest.raises(Unauthenticated, match="token expired"):
        verifier(leeway=60).verify(sign(exp=now - 120))
    with pytest.raises(Unauthenticated, match="not valid yet"):
        verifier(leeway=60).verify(sign(nbf=now + 600))


@pytest.mark.parametrize(("token", "reason"), [
    (lambda: sign(STRANGER), "matches no configured key"),
    (lambda: sign(iss="https://evil.example/"), "unknown issuer"),
    (lambda: sign(aud="another-service"), "another audience"),
    (lambda: sign(exp=None), "lacks the 'exp' claim"),
    (lambda: sign(sub=None), "lacks the 'sub' claim"),
    (lambda: sign(tenant_id=None), "no valid 'tenant_id' claim"),
    (lambda: sign(tenant_id="../other tenant"), "no valid 'tenant_id' claim"),
    (lambda: sign(tenant_id=["a", "b"]), "no valid 'tenant_id' claim"),
    (lambda: jwt.encode(claims(), key=None, algorithm="none"), "algorithm 'none' is not accepted"),
    # The public key used as an HMAC secret: the classic algorithm confusion.
    (lambda: hs256(claims(), pem(RSA_KEY).encode()), "algorithm 'HS256' is not accepted"),
    (lambda: "eyJhbGciOiJSUzI1NiJ9.not-base64!.x", "malformed token"),
    (lambda: sign()[:-6] + "AAAAAA", "matches no configured key"),
], ids=["unknown key", "issuer", "audience", "no exp", "no sub", "no tenant", "bad tenant", "tenant list",
        "alg none", "HS256 with the public key", "malformed", "tampered signature"])
def test_bad_tokens_are_refused_with_the_reason(token: Any, reason: str) -> None:
    with pytest.raises(Unauthenticated, match=reason):
        verifier().verify(token())


def test_only_asymmetric_algorithms_can_be_configured() -> None:
    with pytest.raises(ValueError, match="asymmetric"):
        verifier(algorithms=("RS256", "HS256"))
    with pytest.raises(ValueError):
        Settings(jwt_algorithms=["HS256"])


def test_settings_build_static_tokens_plus_jwt_verification(tmp_path: Any) -> None:
    jwks_file = tmp_path / "jwks.json"
    jwks_file.write_text(json.dumps({"keys": [json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(ED_KEY.public_key()))]}))
    settings = Settings(jwt_issuer=ISSUER, jwt_public_keys=[pem(RSA_KEY)], jwt_jwks_file=jwks_file,
                        api_tokens={"dev-token": {"tenant": "demo", "roles": ["viewer"]}})
    auth = authenticator_from(settings)

    assert auth.authenticate(f"Bearer {sign(RSA_KEY)}").actor == "alice@acme"
    assert auth.authenticate(f"Bearer {sign(ED_KEY)}").tenant_id == TENANT_A
    assert auth.authenticate("Bearer dev-token").tenant_id == "demo"
    assert authenticator_from(Settings()).authenticate("Bearer dev-admin-token").tenant_id == "demo"
    with pytest.raises(Unauthenticated):
        authenticator_from(Settings()).authenticate(f"Bearer {sign(RSA_KEY)}")  # no issuer configured: no JWTs


@pytest.mark.parametrize(("header", "reason"), [
    (None, "a bearer token is required"),
    ("Basic YWxpY2U6c2VjcmV0", "must be 'Bearer <token>'"),
    ("Bearer", "must be 'Bearer <token>'"),
    ("Bearer not-a-token", "unknown token"),
])
def test_the_api_answers_401_with_the_reason(write_side: WriteSide, header: str | None, reason: str) -> None:
    api = create_app(write_side.app, BearerAuth(StaticTokens(TOKENS), verifier()), write_side.command_keys)
    with TestClient(api) as client:
        response = client.get("/v1/drivers", headers={"Authorization": header} if header else {})

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json()["reason_code"] == "unauthenticated"
    assert reason in response.json()["message"]


def test_the_api_takes_tenant_and_roles_from_the_jwt_and_names_a_missing_role(write_side: WriteSide) -> None:
    api = create_app(write_side.app, BearerAuth(StaticTokens(TOKENS), verifier()), write_side.command_keys)
    with TestClient(api) as client:
        operator = {"Authorization": f"Bearer {sign(roles=['operator'])}"}
        admin = {"Authorization": f"Bearer {sign(roles='admin')}"}
        refused = client.post("/v1/drivers/pos/install", headers=operator)
        installed = client.post("/v1/drivers/pos/install", headers=admin, json={"tenant_id": "tenant-b"})
        expired = client.get("/v1/drivers", headers={"Authorization": f"Bearer {sign(exp=int(time.time()) - 3600)}"})
        listed = client.get("/v1/drivers", headers=operator)

    assert refused.status_code == 403
    assert refused.json() == {"reason_code": "forbidden", "message": "this needs the admin role", "missing_role": "admin"}
    assert installed.status_code == 200
    assert (expired.status_code, expired.json()["message"]) == (401, "token expired")
    assert [d["id"] for d in listed.json()] == ["pos"]
    assert write_side.app.installed_drivers(TENANT_A) == {"pos": "1.0.0"}  # the token's tenant, not the body's
    assert write_side.app.installed_drivers("tenant-b") == {}
