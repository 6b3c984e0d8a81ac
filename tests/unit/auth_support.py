"""Shared pieces of the authentication tests (this module holds no tests).

Keys are generated here, served as a JWKS by a real HTTP server on 127.0.0.1
that counts its requests, and tokens are really signed: the validator under
test is exactly the code that runs in Azure. Test modules import the fixtures
they use by name.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from pipelines.auth import jwks as jwks_module
from pipelines.auth import reset_auth

ROOT = Path(__file__).resolve().parents[2]

TENANT = "aaaaaaaa-1111-4111-8111-11111111111b"
OTHER_TENANT = "22222222-2222-4222-8222-222222222222"
API_CLIENT_ID = "33333333-3333-4333-8333-333333333333"  # the API's own app registration
APP_ID_URI = "api://pipelines-test"
CALLER_APP_ID = "44444444-4444-4444-8444-444444444444"  # a client application
CALLER_OBJECT_ID = "55555555-5555-4555-8555-555555555555"
LEGACY_CLIENT_ID = "66666666-6666-4666-8666-666666666666"  # an old SDK v1 client
MIN_REFRESH = 300

# What tells the app it runs in Azure (pipelines.auth.devissuer.azure_environment).
AZURE_MARKERS = ("WEBSITE_INSTANCE_ID", "WEBSITE_SKU", "WEBSITE_SKU_NAME", "LEGION_SERVICE_HOST", "WEBSITE_SITE_NAME")
# One example environment of each Azure hosting family.
AZURE_ENVIRONMENTS = {
    "app-service": {"WEBSITE_INSTANCE_ID": "0123abcd"},
    "flex-consumption": {"WEBSITE_SKU": "FlexConsumption", "CONTAINER_NAME": "c0ffee"},
    "legion": {"LEGION_SERVICE_HOST": "10.0.0.1", "WEBSITE_POD_NAME": "pod-1"},
    "linux-consumption": {"CONTAINER_NAME": "c0ffee", "WEBSITE_SITE_NAME": "my-app"},
}

V1_ISSUER = f"https://sts.windows.net/{TENANT}/"
V2_ISSUER = f"https://login.microsoftonline.com/{TENANT}/v2.0"


# -- keys -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SigningKey:
    kid: str
    private: rsa.RSAPrivateKey

    def jwk(self) -> dict[str, Any]:
        public = RSAAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        # Shaped like Entra ID's: no `alg`, `use: sig`.
        return {"kty": "RSA", "use": "sig", "kid": self.kid, "n": public["n"], "e": public["e"]}


@dataclass(frozen=True)
class Keys:
    current: SigningKey
    next: SigningKey  # published later: a rotation
    stranger: SigningKey  # never published


@pytest.fixture(name="keys", scope="session")
def keys_fixture() -> Keys:
    def make(kid: str) -> SigningKey:
        return SigningKey(kid, rsa.generate_private_key(public_exponent=65537, key_size=2048))

    return Keys(make("key-current"), make("key-next"), make("key-stranger"))


# -- tokens -----------------------------------------------------------------------------------
def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def claims(**overrides: Any) -> dict[str, Any]:
    """An Entra ID v2 application token of TENANT for the API; `name=None` drops a claim."""
    now = int(time.time())
    body: dict[str, Any] = {
        "iss": V2_ISSUER,
        "aud": API_CLIENT_ID,
        "tid": TENANT,
        "oid": CALLER_OBJECT_ID,
        "sub": CALLER_OBJECT_ID,
        "azp": CALLER_APP_ID,
        "roles": ["Pipelines.Read"],
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
        "ver": "2.0",
    }
    body.update(overrides)
    return {name: value for name, value in body.items() if value is not None}


def v1_claims(**overrides: Any) -> dict[str, Any]:
    """An Entra ID v1 token: `sts.windows.net` issuer, App ID URI audience, `appid`."""
    base = claims(iss=V1_ISSUER, aud=APP_ID_URI, azp=None, appid=CALLER_APP_ID, ver="1.0")
    base.update(overrides)
    return {name: value for name, value in base.items() if value is not None}


def sign(key: SigningKey, body: Mapping[str, Any], **header: Any) -> str:
    return jwt.encode(dict(body), key.private, algorithm="RS256", headers={"kid": key.kid, **header})


def unsigned(body: Mapping[str, Any], header: Mapping[str, Any], signature: bytes = b"") -> str:
    """A token assembled by hand, for the forgeries PyJWT rightly refuses to produce."""
    head = b64url(json.dumps(dict(header)).encode())
    payload = b64url(json.dumps(dict(body)).encode())
    return f"{head}.{payload}.{b64url(signature)}"


def bearer(token: str, scheme: str = "Bearer") -> dict[str, str]:
    return {"Authorization": f"{scheme} {token}"}


# -- a key server -----------------------------------------------------------------------------
class KeyServer:
    """A real HTTP server on 127.0.0.1 serving JSON documents by path, counting requests."""

    def __init__(self) -> None:
        self.documents: dict[str, Any] = {}
        self.redirects: dict[str, str] = {}
        self.hits: Counter[str] = Counter()
        self.failing = False
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # http.server's naming
                server.hits[self.path] += 1
                if self.path in server.redirects:
                    self.send_response(302)
                    self.send_header("Location", server.redirects[self.path])
                    self.end_headers()
                    return
                document = server.documents.get(self.path)
                if server.failing or document is None:
                    self.send_response(500 if server.failing else 404)
                    self.end_headers()
                    return
                body = json.dumps(document() if callable(document) else document).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # A short poll interval: shutdown() waits for it, once per test.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def publish(self, *signing_keys: SigningKey, path: str = "/keys") -> None:
        self.documents[path] = {"keys": [key.jwk() for key in signing_keys]}

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture(name="key_server")
def key_server_fixture(keys: Keys) -> Iterator[KeyServer]:
    with KeyServer() as server:
        server.publish(keys.current)
        yield server


# -- environment --------------------------------------------------------------------------------
@pytest.fixture(name="fresh_auth", autouse=True)
def fresh_auth_fixture(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No ambient Azure marker, a private dev key folder, no cached settings or keys."""
    for name in AZURE_MARKERS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PIPELINES_DEV_KEY_DIR", str(tmp_path / "devkeys"))
    reset_auth()
    yield
    reset_auth()


@pytest.fixture(name="auth_env")
def auth_env_fixture(monkeypatch: pytest.MonkeyPatch, key_server: KeyServer) -> dict[str, str]:
    """Trust TENANT, both audience forms, and the keys of `key_server`."""
    env = {
        "PIPELINES_AUTH_TENANT_IDS": TENANT,
        "PIPELINES_AUTH_AUDIENCES": f"{APP_ID_URI},{API_CLIENT_ID}",
        "PIPELINES_AUTH_JWKS_URL": key_server.url("/keys"),
        "PIPELINES_AUTH_JWKS_MIN_REFRESH_SECONDS": str(MIN_REFRESH),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    reset_auth()
    return env


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(name="clock")
def clock_fixture(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The key cache's clock, stepped by hand instead of sleeping through refresh windows."""
    fake = Clock()
    monkeypatch.setattr(jwks_module, "monotonic", fake)
    return fake
