"""The Bicep names the app's tables and containers to scope the compute targets' roles to each one
(infra/app/workers.bicep): the lists must be the app's own, or a target's worker is refused at start."""

from __future__ import annotations

import re

from pipelines.settings import Settings
from pipelines.store.account import APP_ONLY_TABLES, CONTAINERS, TABLES, app_queue_names
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


def test_the_queues_the_template_makes_are_every_queue_the_app_makes_and_their_poison_queues() -> None:
    # the app's own, as `StorageAccount.ensure` makes them, with the steps queue named as the template names it
    app = Settings(AzureWebJobsStorage="UseDevelopmentStorage=true", PIPELINES_STEPS_QUEUE="steps-queue-name")
    made = [name.replace("steps-queue-name", "${stepsQueueName}") for name in app_queue_names(app)]
    # a target's worker makes them too: it holds a role on each
    assert bicep_items(WORKERS, "var appQueueNames = ") == made
    # and the template makes them, and the poison queues of the functions' queues
    main = (ROOT / "infra" / "main.bicep").read_text(encoding="utf-8")
    created = bicep_items(main, "    queueNames: ")
    assert sorted(created) == sorted({*made, *(f"{name}-poison" for name in made if not name.endswith("-poison"))})


def bicep_items(text: str, opening: str) -> list[str]:
    """The items of a Bicep array of strings, one a line, a bare `stepsQueueName` as `${stepsQueueName}`."""
    start = text.index(opening + "[\n") + len(opening) + 2
    lines = text[start:text.index("]", start)].split("\n")
    return [f"${{{item}}}" if item == "stepsQueueName" else item.strip("'") for item in map(str.strip, lines) if item]
