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

    @field_validator("name_prefix")
    @classmethod
    def _prefix_is_a_name(cls, value: str) -> str:
        if not _NAME_PREFIX.match(value):
            raise ValueError("must be lowercase letters and digits, starting with a letter, 16 at most")
        return value

    @field_validator("steps_queue")
    @classmethod
    def _queue_name(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,55}", value):
            raise ValueError("must be a storage queue name (lowercase letters, digits, single dashes)")
        return value

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
