"""Settings of token validation, read once from `PIPELINES_AUTH_*` app settings.

Kept apart from `pipelines.settings` so that authentication can be configured,
checked and reset on its own (tests and the development host change it without
touching storage settings). Lists are comma-separated in the environment
(`PIPELINES_AUTH_TENANT_IDS=a,b`), which is how Bicep and the portal write app
settings; a JSON array is accepted too.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Annotated, Any

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from pipelines.auth.devissuer import DEV_AUDIENCE, DEV_TENANT_ID, azure_environment
from pipelines.auth.fetch import check_key_url
from pipelines.auth.permissions import Permission
from pipelines.errors import ConfigurationError

PREFIX = "PIPELINES_AUTH_"

# Where Entra ID publishes each tenant's OpenID configuration (and through it, its keys).
ENTRA_OPENID_CONFIG = "https://login.microsoftonline.com/{tenant}/v2.0/.well-known/openid-configuration"

# Audiences that old SDK v1 clients ask for (docs/contract.md §5). Accepting them is
# only possible through migration mode, with an allow-list of client ids.
MANAGEMENT_AUDIENCES = ("https://management.azure.com", "https://management.azure.com/")
# Every audience of Azure Resource Manager: never a normal audience of this API,
# or any management token of the tenant would get in.
ARM_AUDIENCES = MANAGEMENT_AUDIENCES + (
    "https://management.core.windows.net",
    "https://management.core.windows.net/",
)

# Only asymmetric algorithms: an HMAC "key" would have to be the public key
# (the classic algorithm-confusion attack) and `none` is no signature at all.
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}
)

_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

CommaList = Annotated[list[str], NoDecode]


def split_list(value: Any) -> Any:
    """`a, b,,c` → `["a", "b", "c"]`; a JSON array string is accepted as well."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except ValueError:
                raise ValueError("is neither a comma-separated list nor a JSON array") from None
        else:
            value = text.split(",")
    if isinstance(value, (list, tuple)):
        return [str(item).strip() for item in value if str(item).strip()]
    return value


class AuthSettings(BaseSettings):
    """Everything token validation reads from the environment."""

    model_config = SettingsConfigDict(env_prefix=PREFIX, extra="ignore", populate_by_name=True)

    # -- who may call -------------------------------------------------------------------
    tenant_ids: CommaList = Field(default_factory=list)
    audiences: CommaList = Field(default_factory=list)

    # -- where the signing keys are -------------------------------------------------------
    # Set JWKS_URL to skip discovery (one key set for every tenant); otherwise
    # each tenant's `jwks_uri` is read from OPENID_CONFIG_URL with `{tenant}` filled in.
    jwks_url: str | None = None
    openid_config_url: str = ENTRA_OPENID_CONFIG
    # Microsoft.IdentityModel refreshes its configuration at most every 5 minutes on
    # demand and every 12 hours regardless; same defaults here.
    jwks_min_refresh_seconds: float = Field(default=300, ge=0)
    jwks_max_age_seconds: float = Field(default=12 * 3600, gt=0)
    http_timeout_seconds: float = Field(default=5, gt=0, le=60)

    # -- what a valid token looks like ------------------------------------------------------
    algorithms: CommaList = Field(default_factory=lambda: ["RS256"])
    clock_skew_seconds: int = Field(default=120, ge=0, le=900)

    # -- migration mode (docs/contract.md §5) ----------------------------------------------------
    migration_mode: bool = False
    migration_client_ids: CommaList = Field(default_factory=list)
    migration_roles: CommaList = Field(
        default_factory=lambda: [Permission.SUBMIT.value, Permission.READ.value]
    )
    migration_audiences: CommaList = Field(default_factory=lambda: list(MANAGEMENT_AUDIENCES))

    # -- local development ---------------------------------------------------------------------
    # Not prefixed: shared with the development issuer and the development host.
    dev_issuer: bool = Field(default=False, validation_alias="PIPELINES_DEV_ISSUER")

    @field_validator(
        "tenant_ids",
        "audiences",
        "algorithms",
        "migration_client_ids",
        "migration_roles",
        "migration_audiences",
        mode="before",
    )
    @classmethod
    def _split(cls, value: Any) -> Any:
        return split_list(value)

    @field_validator("tenant_ids", "migration_client_ids")
    @classmethod
    def _guids(cls, value: list[str]) -> list[str]:
        # `tid`, `appid` and `azp` are always GUIDs: a domain name here would
        # silently never match, so refuse it now.
        lowered = [item.lower() for item in value]
        bad = [item for item in lowered if not _GUID.match(item)]
        if bad:
            raise ValueError(f"must be GUIDs, not {', '.join(bad)}")
        return lowered

    @field_validator("algorithms")
    @classmethod
    def _asymmetric_only(cls, value: list[str]) -> list[str]:
        bad = [item for item in value if item not in ASYMMETRIC_ALGORITHMS]
        if bad:
            raise ValueError(
                f"{', '.join(bad)} not accepted; choose from {', '.join(sorted(ASYMMETRIC_ALGORITHMS))}"
            )
        if not value:
            raise ValueError("must name at least one algorithm")
        return value

    @field_validator("migration_roles")
    @classmethod
    def _known_roles(cls, value: list[str]) -> list[str]:
        known = {p.value for p in Permission if p is not Permission.ANONYMOUS}
        bad = [item for item in value if item not in known]
        if bad:
            raise ValueError(f"{', '.join(bad)} unknown; choose from {', '.join(sorted(known))}")
        return value

    @field_validator("migration_audiences")
    @classmethod
    def _management_only(cls, value: list[str]) -> list[str]:
        # Migration mode exists for old clients' Resource Manager tokens, nothing else.
        bad = [item for item in value if item not in ARM_AUDIENCES]
        if bad:
            raise ValueError(f"{', '.join(bad)} not accepted; choose from {', '.join(ARM_AUDIENCES)}")
        return value

    @field_validator("jwks_url")
    @classmethod
    def _jwks_url(cls, value: str | None) -> str | None:
        return check_key_url(value) if value else None

    @field_validator("openid_config_url")
    @classmethod
    def _openid_template(cls, value: str) -> str:
        if "{tenant}" not in value:
            raise ValueError("must contain {tenant}")
        check_key_url(value.replace("{tenant}", "tenant"))
        return value

    @model_validator(mode="after")
    def _complete(self) -> AuthSettings:
        in_azure = azure_environment()
        if in_azure and (self.dev_issuer or DEV_TENANT_ID in self.tenant_ids):
            raise ValueError(
                "the development issuer is configured (PIPELINES_DEV_ISSUER or its tenant in "
                f"{PREFIX}TENANT_IDS) but this runs in Azure ({in_azure}); "
                "remove the development settings from the app"
            )
        if self.dev_issuer:
            # Local development: what is not set explicitly trusts the local issuer.
            self.tenant_ids = self.tenant_ids or [DEV_TENANT_ID]
            self.audiences = self.audiences or [DEV_AUDIENCE]
        missing = [
            f"{PREFIX}{name.upper()}" for name in ("tenant_ids", "audiences") if not getattr(self, name)
        ]
        if missing:
            raise ValueError(f"set {' and '.join(missing)} (or PIPELINES_DEV_ISSUER=true locally)")
        overlap = set(self.audiences) & set(ARM_AUDIENCES)
        if overlap:
            # Otherwise any Azure management token of the tenant would be accepted
            # without the client allow-list of migration mode.
            raise ValueError(
                f"{PREFIX}AUDIENCES must not contain {', '.join(sorted(overlap))}; "
                f"use {PREFIX}MIGRATION_MODE with {PREFIX}MIGRATION_CLIENT_IDS"
            )
        if self.migration_mode and not self.migration_client_ids:
            raise ValueError(
                f"{PREFIX}MIGRATION_MODE is on but {PREFIX}MIGRATION_CLIENT_IDS is empty; "
                "list the client application ids allowed to use management tokens"
            )
        return self


def _env_name(field: str) -> str:
    info = AuthSettings.model_fields.get(field)
    if info is not None and isinstance(info.validation_alias, str):
        return info.validation_alias
    return f"{PREFIX}{field.upper()}"


@functools.lru_cache(maxsize=1)
def get_auth_settings() -> AuthSettings:
    """The settings, read once; a bad or incomplete environment raises ConfigurationError naming it."""
    try:
        return AuthSettings()
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"])
            message = str(error["msg"]).removeprefix("Value error, ")
            problems.append(f"{_env_name(where)}: {message}" if where else message)
        raise ConfigurationError("invalid authentication settings: " + "; ".join(problems)) from None


def check_auth_settings() -> AuthSettings:
    """Read the settings now (at start-up) rather than on the first request."""
    return get_auth_settings()


def reset_auth_settings() -> None:
    """Forget the cached settings (tests and the development host change the environment)."""
    get_auth_settings.cache_clear()
