"""The Bicep names the app's tables and containers to scope the compute targets' roles to each one
(infra/app/workers.bicep): the lists must be the app's own, or a target's worker is refused at start."""

from __future__ import annotations

import re

from pipelines.store.account import APP_ONLY_TABLES, CONTAINERS, TABLES
from tests.service import ROOT

WORKERS = (ROOT / "infra" / "app" / "workers.bicep").read_text(encoding="utf-8")


def bicep_list(name: str) -> list[str]:
    match = re.search(rf"^var {name} = \[\n(.*?)\n\]", WORKERS, re.MULTILINE | re.DOTALL)
    assert match is not None, f"var {name} is not in workers.bicep"
    return re.findall(r"'([^']+)'", match.group(1))


def test_the_targets_roles_name_every_table_and_container_of_the_app() -> None:
    # every table but those only the app reads (the Azure DevOps jobs' tokens)
    assert bicep_list("tableBases") == [name for name in TABLES if name not in APP_ONLY_TABLES]
    assert APP_ONLY_TABLES and set(APP_ONLY_TABLES) <= set(TABLES)
    assert bicep_list("containerBases") == list(CONTAINERS)


def test_no_role_of_a_target_is_on_the_whole_account_but_the_one_a_condition_limits() -> None:
    roles = (ROOT / "infra" / "app" / "target-roles.bicep").read_text(encoding="utf-8")
    assignment = r"^resource (\w+) 'Microsoft.Authorization/roleAssignments@[^']+' = \{\n(?:.*\n)*?  scope: storage\n"
    account_scoped = re.findall(assignment, roles, re.MULTILINE)
    assert account_scoped == ["handOffRole"]
    assert "scope: storage\n" not in WORKERS
