"""Settings of the app, read once from the environment.

Azure Functions hands app settings to the worker as environment variables
(`local.settings.json` → `Values` locally). Every setting the package reads is
declared here, so a missing or malformed one fails at start-up with its name.
"""

from __future__ import annotations

import functools
import re

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from pipelines.errors import ConfigurationError

# The well-known key of the storage emulator (public, documented by Microsoft).
EMULATOR_ACCOUNT = "devstoreaccount1"
EMULATOR_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

_NAME_PREFIX = re.compile(r"^[a-z][a-z0-9]{0,15}$|^$")


class Settings(BaseSettings):
    """Everything the package reads from the environment."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    # -- storage -----------------------------------------------------------------
    # Either a connection string (locally: the emulator) ...
    storage_connection: str | None = Field(default=None, alias="AzureWebJobsStorage")
    # ... or an identity-based connection, as the Functions host reads it
    # (https://learn.microsoft.com/azure/azure-functions/functions-reference#connecting-to-host-storage-with-an-identity)
    storage_account_name: str | None = Field(default=None, alias="AzureWebJobsStorage__accountName")
    storage_blob_uri: str | None = Field(default=None, alias="AzureWebJobsStorage__blobServiceUri")
    storage_queue_uri: str | None = Field(default=None, alias="AzureWebJobsStorage__queueServiceUri")
    storage_table_uri: str | None = Field(default=None, alias="AzureWebJobsStorage__tableServiceUri")
    storage_client_id: str | None = Field(default=None, alias="AzureWebJobsStorage__clientId")
    storage_credential: str | None = Field(default=None, alias="AzureWebJobsStorage__credential")

    # Prefix of every table, container and queue name: lets tests and several
    # apps share one account without seeing each other's data.
    name_prefix: str = Field(default="", alias="PIPELINES_NAME_PREFIX")
    steps_queue: str = Field(default="pipeline-steps", alias="PIPELINES_STEPS_QUEUE")

    # -- limits ------------------------------------------------------------------
    max_request_bytes: int = Field(default=1_048_576, alias="PIPELINES_MAX_REQUEST_BYTES", gt=0)
    max_snapshot_bytes: int = Field(
        default=100 * 1_048_576, alias="PIPELINES_MAX_SNAPSHOT_BYTES", gt=0
    )
    # The run-history family's page when the caller asks for no size (its callers follow its
    # continuationToken); the pipelines family's lists answer up to 1000 (pipelines.api.paging).
    page_size_default: int = Field(default=100, alias="PIPELINES_PAGE_SIZE", gt=0, le=1000)
    # A step runs inside one invocation of the queue function: keep it under
    # host.json's functionTimeout (30 min), so the worker, not the host, stops
    # a long step and still records why. A step's own timeout is capped by the maximum.
    step_timeout_seconds: int = Field(default=1500, alias="PIPELINES_STEP_TIMEOUT_SECONDS", gt=0)
    max_step_timeout_seconds: int = Field(default=1740, alias="PIPELINES_MAX_STEP_TIMEOUT_SECONDS", gt=0)
    step_lease_seconds: int = Field(default=15, alias="PIPELINES_STEP_LEASE_SECONDS", gt=0)
    idempotency_window_seconds: int = Field(
        default=24 * 3600, alias="PIPELINES_IDEMPOTENCY_WINDOW_SECONDS", gt=0
    )
    work_dir: str | None = Field(default=None, alias="PIPELINES_WORK_DIR")

    # Public base URL used to build `Url` in answers; else taken from the request.
    public_base_url: str | None = Field(default=None, alias="PIPELINES_PUBLIC_BASE_URL")

    # -- run events out (docs/architecture.md, "Run events") -----------------------
    # An Event Grid custom topic's endpoint (https://<topic>.<region>-1.eventgrid.azure.net/api/events),
    # or a namespace's (https://<namespace>.<region>-1.eventgrid.azure.net) with the namespace topic.
    events_topic_endpoint: str | None = Field(default=None, alias="PIPELINES_EVENTS_TOPIC_ENDPOINT")
    events_namespace_topic: str | None = Field(default=None, alias="PIPELINES_EVENTS_NAMESPACE_TOPIC")
    # A queue of this account that receives every event (the local sink: the development host
    # and the tests set it; `pipelines events tail` reads it). Unset in Azure.
    events_queue: str | None = Field(default=None, alias="PIPELINES_EVENTS_QUEUE")
    # Events of each step too (StepStarted per attempt, StepFinished/Failed/Canceled).
    events_steps: bool = Field(default=False, alias="PIPELINES_EVENTS_STEPS")
    # The events' `source`; default: the app's host name (WEBSITE_HOSTNAME in Azure).
    events_source: str | None = Field(default=None, alias="PIPELINES_EVENTS_SOURCE")
    # Webhooks: attempts per delivery (the first and its retries), and the longest pause between two.
    webhook_max_attempts: int = Field(default=10, alias="PIPELINES_WEBHOOK_MAX_ATTEMPTS", gt=0, le=50)
    webhook_max_backoff_seconds: int = Field(default=300, alias="PIPELINES_WEBHOOK_MAX_BACKOFF_SECONDS", gt=0)
    # How long the notify queue's deliverer waits for a sink (Event Grid, a webhook, an Azure DevOps
    # plan) before it hands the sink's events to the sinks queue (`pipelines.events.delivery`).
    events_quick_seconds: float = Field(default=2.0, alias="PIPELINES_EVENTS_QUICK_SECONDS", gt=0, le=10)
    # The sweeper nudges a run whose events are not all handed off this long after the last of them.
    events_grace_seconds: int = Field(default=30, alias="PIPELINES_EVENTS_GRACE_SECONDS", gt=0)
    # Development only: plain http webhooks to 127.0.0.1 or localhost are accepted.
    webhooks_allow_local_http: bool = Field(default=False, alias="PIPELINES_WEBHOOKS_ALLOW_LOCAL_HTTP")

    # The storage SDKs' log of every request and answer (azure.core's HttpLoggingPolicy, at INFO):
    # off unless asked for (`pipelines.store.account.quiet_request_logs`).
    storage_request_logs: bool = Field(default=False, alias="PIPELINES_STORAGE_REQUEST_LOGS")

    @field_validator("name_prefix")
    @classmethod
    def _prefix_is_a_name(cls, value: str) -> str:
        if not _NAME_PREFIX.match(value):
            raise ValueError("must be lowercase letters and digits, starting with a letter, 16 at most")
        return value

    @field_validator("steps_queue")
    @classmethod
    def _queue_name(cls, value: str) -> str:
        # 49 at most: the run events' queues `<name>-notify`, `<name>-sinks` and their `-poison` are named after it.
        if not re.fullmatch(r"[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,48}", value):
            raise ValueError("must be a storage queue name (lowercase letters, digits, single dashes), 49 at most")
        return value

    @field_validator("events_queue")
    @classmethod
    def _events_queue_name(cls, value: str | None) -> str | None:
        if value and not re.fullmatch(r"[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}", value):
            raise ValueError("must be a storage queue name (lowercase letters, digits, single dashes)")
        return value or None

    @field_validator("events_topic_endpoint")
    @classmethod
    def _topic_endpoint(cls, value: str | None) -> str | None:
        if value and not value.startswith("https://"):
            raise ValueError("must be the https:// endpoint of an Event Grid topic or namespace")
        return value or None

    @model_validator(mode="after")
    def _has_storage(self) -> Settings:
        if not self.storage_connection and not (
            self.storage_account_name or self.storage_blob_uri
        ):
            raise ValueError(
                "set AzureWebJobsStorage (a connection string) or "
                "AzureWebJobsStorage__accountName (managed identity)"
            )
        return self

    # -- derived names -----------------------------------------------------------
    def table_name(self, base: str) -> str:
        """Table names are alphanumeric: `prefix` + base (base is CamelCase)."""
        return f"{self.name_prefix}{base}"

    def container_name(self, base: str) -> str:
        return f"{self.name_prefix}-{base}" if self.name_prefix else base

    @property
    def steps_queue_name(self) -> str:
        return self.steps_queue

    @property
    def poison_queue_name(self) -> str:
        return f"{self.steps_queue}-poison"

    @property
    def notify_queue_name(self) -> str:
        """The queue of run-event deliveries (`pipelines.events`): named after the steps queue, so
        the trigger binds to `%PIPELINES_STEPS_QUEUE%-notify` and needs no setting of its own."""
        return f"{self.steps_queue}-notify"

    @property
    def sinks_queue_name(self) -> str:
        """The queue of deliveries to one sink (`pipelines.events`): retries, and sinks slower than
        the notify queue's deliverer waits for. Its trigger binds to `%PIPELINES_STEPS_QUEUE%-sinks`."""
        return f"{self.steps_queue}-sinks"

    @property
    def events_everywhere(self) -> bool:
        """Whether every run has events (a topic or the local sink); webhooks are per endpoint."""
        return bool(self.events_topic_endpoint or self.events_queue)


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings, read once; a bad environment raises ConfigurationError naming it."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = ".".join(str(part) for part in error["loc"]) or "environment"
            problems.append(f"{name}: {error['msg']}")
        raise ConfigurationError("invalid settings: " + "; ".join(problems)) from None


def reset_settings() -> None:
    """Forget the cached settings (tests change the environment)."""
    get_settings.cache_clear()
