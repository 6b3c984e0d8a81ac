"""What a caller may do: permissions, and the principal a token becomes."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from pipelines.errors import ForbiddenError


class Permission(str, Enum):
    """App roles (application tokens, `roles`) or scopes (delegated tokens, `scp`)."""

    ANONYMOUS = "anonymous"  # health only
    READ = "Pipelines.Read"
    SUBMIT = "Pipelines.Submit"
    PUBLISH = "Pipelines.Publish"
    ADMIN = "Pipelines.Admin"


# What each role grants. Admin grants everything; Submit and Publish both imply
# Read, because a caller who may start a run may also poll it.
GRANTS: dict[Permission, frozenset[Permission]] = {
    Permission.READ: frozenset({Permission.READ}),
    Permission.SUBMIT: frozenset({Permission.READ, Permission.SUBMIT}),
    Permission.PUBLISH: frozenset({Permission.READ, Permission.PUBLISH}),
    Permission.ADMIN: frozenset(
        {Permission.READ, Permission.SUBMIT, Permission.PUBLISH, Permission.ADMIN}
    ),
}


@dataclass(frozen=True)
class Principal:
    """The caller, as the token describes it."""

    object_id: str | None
    app_id: str | None
    tenant_id: str | None
    roles: frozenset[str] = field(default_factory=frozenset)
    scopes: frozenset[str] = field(default_factory=frozenset)
    name: str | None = None

    @property
    def permissions(self) -> frozenset[Permission]:
        granted: set[Permission] = set()
        for claim in self.roles | self.scopes:
            try:
                granted |= GRANTS[Permission(claim)]
            except (ValueError, KeyError):
                continue
        return frozenset(granted)

    def allows(self, needed: Permission) -> bool:
        return needed is Permission.ANONYMOUS or needed in self.permissions

    def require(self, needed: Permission) -> None:
        if not self.allows(needed):
            raise ForbiddenError(
                f"the caller lacks the role {needed.value!r} this operation needs",
                target=needed.value,
            )

    @property
    def identity(self) -> str:
        """A stable, non-secret name for run records and logs."""
        return self.object_id or self.app_id or self.name or "unknown"
