"""The Azure DevOps job that waits for a run: `AzDevOpsCallBackInfo` of a submit.

Azure DevOps' agentless task that invokes a published pipeline ("Invoke ML pipeline", or
Invoke REST API with "Wait for completion" on) sends the job's plan, ids and token in the
submit body and holds the job until it is told the run ended: a `TaskCompleted` job event
posted to the plan (`POST {PlanUri}{ProjectId}/_apis/distributedtask/hubs/{HubName}/plans/
{PlanId}/events`, authenticated with the job's token). Without it the job waits until its
own timeout. The run's end goes there as one more sink of its events
(`pipelines.events.sinks.DevOpsSink`), retried and recorded like a webhook.

The token is the job's `System.AccessToken`: it acts for the project's build identity while
the job lasts. It is kept apart from the run, in the table `RunCallbacks`, which only the app
reads (a compute target's identity has no role on it, infra/app/workers.bicep), never in an
answer or a log, and removed once the run's events are all handed off. The run row keeps
the rest (`DevOpsTask`), which the events route shows. Callback information that cannot be
used (a key missing or not a string, a plan URL that is not https) is not an error, as the
contract has it: the key is named in `x-ms-ignored-keys` and logged, and no callback is made.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from pipelines.catalogue.webhooks import url_allowed
from pipelines.store import StorageAccount, Table, key

log = logging.getLogger("pipelines.runs")

BODY_KEY = "AzDevOpsCallBackInfo"
TABLE = "RunCallbacks"
ROW = "devops"
API_VERSION = "2.0-preview.1"  # what Azure DevOps Server 2019 and later, and the service, take
MAX_TEXT = 2048
RESERVED_DOMAINS = frozenset({"invalid", "test", "example", "localhost"})
_KEYS = {"planuri": "plan_uri", "projectid": "project_id", "hubname": "hub_name", "planid": "plan_id",
         "jobid": "job_id", "taskinstanceid": "task_instance_id"}


@dataclass(frozen=True)
class DevOpsTask:
    """Which job of which plan waits for the run (no secret: kept on the run row)."""

    plan_uri: str
    project_id: str
    hub_name: str
    plan_id: str
    job_id: str
    task_instance_id: str

    @property
    def events_url(self) -> str:
        project, hub, plan = (quote(part, safe="") for part in (self.project_id, self.hub_name, self.plan_id))
        path = f"{project}/_apis/distributedtask/hubs/{hub}/plans/{plan}/events"
        return f"{self.plan_uri.rstrip('/')}/{path}?api-version={API_VERSION}"

    @property
    def label(self) -> str:
        where = urlsplit(self.plan_uri)
        return f"Azure DevOps job {self.job_id} of plan {self.plan_id} at {where.scheme}://{where.netloc}{where.path}"

    def text(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_text(cls, text: Any) -> DevOpsTask | None:
        """The job as the run row keeps it; None without one, or for a value this code did not write
        (the run stays readable; its end is then told to no job)."""
        if not isinstance(text, str) or not text:
            return None
        try:
            return cls(**json.loads(text))
        except (ValueError, TypeError):
            log.error("a run row's DevOpsTask is not one this service wrote: %.200s", text)
            return None


def read_callback(value: Any, *, allow_local_http: bool = False) -> tuple[DevOpsTask, str] | None:
    """The job and its token from `AzDevOpsCallBackInfo` (keys in any case); None when it
    cannot be used (the caller names the key as ignored)."""
    if not isinstance(value, Mapping):
        return None
    found: dict[str, str] = {}
    token: str | None = None
    for name, item in value.items():
        lowered = str(name).lower()
        if lowered == "authtoken":
            token = item if isinstance(item, str) and item.strip() else None
        elif lowered in _KEYS:
            if not isinstance(item, str) or not item.strip() or len(item) > MAX_TEXT:
                return None
            found[_KEYS[lowered]] = item.strip()
    if token is None or len(found) != len(_KEYS) or not _plan_uri_allowed(found["plan_uri"], allow_local_http):
        return None
    return DevOpsTask(**found), token


def _plan_uri_allowed(url: str, allow_local_http: bool) -> bool:
    """As a webhook's URL (https; plain http to this machine where development allows it), with no
    query, fragment or credentials, and not in a domain reserved never to resolve (RFC 2606, 6761)."""
    if not url_allowed(url, allow_local_http=allow_local_http):
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    host = (parts.hostname or "").rstrip(".")
    reserved = host.rsplit(".", 1)[-1] in RESERVED_DOMAINS and host not in ("localhost",)
    return not (parts.username or parts.password or parts.query or parts.fragment or not host or reserved)


class DevOpsTokens:
    """The jobs' tokens, one row per run in `RunCallbacks` (see the module's text)."""

    def __init__(self, account: StorageAccount) -> None:
        self.table = Table(account.table(TABLE))

    def keep(self, workspace: str, run_id: str, token: str) -> None:
        self.table.upsert({"PartitionKey": key(workspace, run_id), "RowKey": ROW, "Token": token})

    def read(self, workspace: str, run_id: str) -> str | None:
        entity = self.table.get(key(workspace, run_id), ROW)
        return str(entity["Token"]) if entity is not None and entity.get("Token") else None

    def forget(self, workspace: str, run_id: str) -> None:
        self.table.delete(key(workspace, run_id), ROW)
