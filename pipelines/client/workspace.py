"""Where the service is and how to get a token: the client's `Workspace`.

Tokens come from, in order: `PIPELINES_TOKEN` (a token you already have); the
local development issuer when the service is on 127.0.0.1/localhost (the same
key the local host trusts); else `azure-identity`'s `DefaultAzureCredential`
for the scope `PIPELINES_AUDIENCE/.default`.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import requests

from pipelines.errors import PipelinesError

DEFAULT_BASE_URL = "http://127.0.0.1:7071"
DEFAULT_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
DEFAULT_RESOURCE_GROUP = "local"
DEFAULT_WORKSPACE = "default"
ALL_ROLES = ("Pipelines.Read", "Pipelines.Submit", "Pipelines.Publish", "Pipelines.Admin")


class ServiceError(PipelinesError):
    """The service answered with an error; `status` and `code` are its own."""

    def __init__(self, status: int, code: str, message: str, target: str | None = None, body: Any = None) -> None:
        # The status and code lead the message, so the command line's one error line shows them.
        super().__init__(f"{status} {code}: {message}", target=target)
        self.status = status
        self.code = code
        self.body = body


def _local(url: str) -> bool:
    return urlparse(url).hostname in ("127.0.0.1", "localhost", "::1")


def default_token_provider(base_url: str) -> Callable[[], str]:
    token = os.environ.get("PIPELINES_TOKEN")
    if token:
        return lambda: token
    if _local(base_url):
        from pipelines.auth import devissuer

        cache: dict[str, Any] = {}

        def local_token() -> str:
            if cache.get("expires", 0) < time.time() + 60:
                cache["token"] = devissuer.mint(ALL_ROLES, lifetime_seconds=3600)
                cache["expires"] = time.time() + 3600
            return str(cache["token"])

        return local_token
    audience = os.environ.get("PIPELINES_AUDIENCE")
    if not audience:
        raise PipelinesError("set PIPELINES_AUDIENCE (the app id URI) or PIPELINES_TOKEN to call a remote service")
    from azure.identity import DefaultAzureCredential

    credential = DefaultAzureCredential()
    scope = audience.rstrip("/") + "/.default"
    return lambda: credential.get_token(scope).token


@dataclass(init=False)
class Workspace:
    """A workspace of the service, addressed as the old SDK's REST URLs do.

    Without `base_url`, the service is at `$PIPELINES_BASE_URL` (else 127.0.0.1:7071).
    SDK v1's constructor is accepted too: `Workspace(subscription_id, resource_group,
    workspace_name)` (positional, the first not a URL) or with those keywords; `auth`
    is ignored (tokens: see the module).
    """

    base_url: str
    subscription_id: str
    resource_group: str
    name: str
    token_provider: Callable[[], str] | None
    timeout: float
    _session: requests.Session = field(repr=False)

    def __init__(
        self,
        base_url: str | None = None,
        subscription_id: str = DEFAULT_SUBSCRIPTION,
        resource_group: str = DEFAULT_RESOURCE_GROUP,
        name: str = DEFAULT_WORKSPACE,
        token_provider: Callable[[], str] | None = None,
        timeout: float = 60.0,
        *,
        workspace_name: str | None = None,
        auth: Any = None,
        **ignored: Any,
    ) -> None:
        if base_url is not None and "://" not in base_url:
            # SDK v1: Workspace(subscription_id, resource_group, workspace_name)
            subscription_id, resource_group, name = base_url, subscription_id, resource_group
            base_url = None
        self.base_url = base_url if base_url is not None else os.environ.get("PIPELINES_BASE_URL", DEFAULT_BASE_URL)
        self.subscription_id = subscription_id
        self.resource_group = resource_group
        self.name = workspace_name or name
        self.token_provider = token_provider
        self.timeout = timeout
        self._session = requests.Session()

    @property
    def compute_targets(self) -> dict[str, Any]:
        """SDK v1's `ws.compute_targets`: name to `ComputeTarget` (pipelines.client.targets), `app` first."""
        from pipelines.client.targets import ComputeTarget

        return {target.name: target for target in ComputeTarget.list(self)}

    @classmethod
    def from_env(cls, **overrides: Any) -> Workspace:
        values: dict[str, Any] = {
            "base_url": os.environ.get("PIPELINES_BASE_URL", DEFAULT_BASE_URL),
            "subscription_id": os.environ.get("PIPELINES_SUBSCRIPTION_ID", DEFAULT_SUBSCRIPTION),
            "resource_group": os.environ.get("PIPELINES_RESOURCE_GROUP", DEFAULT_RESOURCE_GROUP),
            "name": os.environ.get("PIPELINES_WORKSPACE", DEFAULT_WORKSPACE),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    @classmethod
    def get(cls, name: str, auth: Any = None, subscription_id: str | None = None, resource_group: str | None = None,
            **ignored: Any) -> Workspace:
        """SDK v1's `Workspace.get(name, subscription_id=, resource_group=)`; the service's address
        comes from `PIPELINES_BASE_URL` (SDK v1 knew Azure's), `auth` is ignored (see the module)."""
        return cls.from_env(name=name, subscription_id=subscription_id, resource_group=resource_group)

    @classmethod
    def from_config(cls, path: str | os.PathLike[str] | None = None, auth: Any = None, _logger: Any = None,
                    _file_name: str | None = None, **overrides: Any) -> Workspace:
        """SDK v1's `Workspace.from_config()`: the `config.json` it wrote (`subscription_id`,
        `resource_group`, `workspace_name`), read from `path` (a file or a folder), else from
        the current folder or the nearest parent holding `config.json` or `.azureml/config.json`.

        The address of this service is not in that file: `PIPELINES_BASE_URL`, or a
        `pipelines_base_url` key added to it. `auth` is ignored (see the module).
        """
        found = _find_config(Path(path) if path is not None else None, _file_name or "config.json")
        try:
            config = json.loads(found.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise PipelinesError(f"{found}: cannot read it as a workspace config.json: {exc}") from None
        if not isinstance(config, dict):
            raise PipelinesError(f"{found}: a workspace config.json holds an object")
        values = {
            "base_url": config.get("pipelines_base_url"),
            "subscription_id": config.get("subscription_id"),
            "resource_group": config.get("resource_group"),
            "name": config.get("workspace_name"),
        }
        return cls.from_env(**{**{k: v for k, v in values.items() if v}, **overrides})

    def get_default_datastore(self) -> Any:
        """`workspaceblobstore`, as SDK v1's `ws.get_default_datastore()`."""
        from pipelines.client.data import Datastore

        return Datastore.get_default(self)

    @property
    def url(self) -> str:
        return (
            f"{self.base_url.rstrip('/')}/pipelines/v1.0/subscriptions/{self.subscription_id}"
            f"/resourceGroups/{self.resource_group}/providers/Microsoft.MachineLearningServices"
            f"/workspaces/{self.name}"
        )

    @property
    def history_url(self) -> str:
        """The same workspace in the run-history family (`/history/v1.0/...`)."""
        return self.url.replace("/pipelines/v1.0/", "/history/v1.0/", 1)

    def _token(self) -> str:
        if self.token_provider is None:
            self.token_provider = default_token_provider(self.base_url)
        return self.token_provider()

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        data: bytes | None = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        stream: bool = False,
    ) -> requests.Response:
        """`path` under the workspace URL, or an absolute URL of the same service."""
        all_headers = {"Authorization": f"Bearer {self._token()}", **dict(headers or {})}
        body = data
        if json_body is not None:
            body = json.dumps(json_body).encode()
            all_headers.setdefault("Content-Type", "application/json")
        url = path if path.startswith(("http://", "https://")) else self.url + path
        if not url.startswith(self.base_url.rstrip("/") + "/"):
            # A URL from an answer (a log, an output file) gets the token only on this service.
            raise PipelinesError(f"{url} is not on this service ({self.base_url}): no token is sent there")
        response = self._session.request(
            method, url, data=body, params=params, headers=all_headers, timeout=self.timeout, stream=stream
        )
        if response.status_code >= 400:
            raise _service_error(response)
        return response

    def get_json(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs).json()

    def list_all(self, path: str, params: Mapping[str, Any] | None = None) -> list[Any]:
        """Follow `x-ms-continuation` until the list ends."""
        items: list[Any] = []
        query = dict(params or {})
        while True:
            response = self.request("GET", path, params=query)
            items += response.json()
            token = response.headers.get("x-ms-continuation")
            if not token:
                return items
            query["continuationToken"] = token


def _find_config(path: Path | None, file_name: str) -> Path:
    if path is not None and path.is_file():
        return path
    start = (path or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        for candidate in (folder / file_name, folder / ".azureml" / file_name):
            if candidate.is_file():
                return candidate
    raise PipelinesError(f"no {file_name} (or .azureml/{file_name}) in {start} or a folder above it")


def _service_error(response: requests.Response) -> ServiceError:
    try:
        body = response.json()
        error = body.get("Error", {})
        return ServiceError(
            response.status_code, error.get("Code", "Error"), error.get("Message", response.text),
            error.get("Target"), body,
        )
    except (ValueError, AttributeError):
        return ServiceError(response.status_code, "Error", response.text[:500])
