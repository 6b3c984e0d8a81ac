"""What a caller changes on a pipeline run through the run-history family: SDK v1's
`run.tag()`, `set_tags()`, `add_properties()`, `display_name = ...` (a PATCH of the run with
a `CreateRunDto`) and `remove_tags()` (a DELETE of its `tags`); the rules are
`pipelines.runs.labels`', the answer the run's `RunDto` as `pipelines.api.history` reads it.
And on an experiment: `experiment.archive()`, `reactivate()`, `set_tags()` (a PATCH of it
with a `ModifyExperimentDto`), answered with its `ExperimentDto`.
"""

from __future__ import annotations

from typing import Any

from pipelines.api.automation_contract import ignored_keys_header
from pipelines.api.history import experiment_dto, reader, run_dto
from pipelines.api.history_contract import DeleteTagsResultDto, RunDto
from pipelines.api.http import Reply, RequestContext, route
from pipelines.errors import BadRequestError, ErrorDetail
from pipelines.runs.body_keys import sort_keys
from pipelines.runs.experiments import Experiments
from pipelines.runs.history import pipeline_record
from pipelines.runs.labels import Labels, RunLabels, grown_problems
from pipelines.runs.request import refuse
from pipelines.store import get_account
from pipelines.text import description_problem, entry_problems

# The keys of SDK v1's CreateRunDto a PATCH reads; the others are ignored and listed.
_PATCH_KEYS = ("runId", "tags", "properties", "displayName", "description")


def _labels_of(ctx: RequestContext) -> tuple[Labels, list[str]]:
    """A CreateRunDto body as the change it asks: `tags`, `properties`, `displayName`, `description`
    (keys in any case); its `runId` is read and passed over (the path names the run); every other key is
    ignored and listed."""
    values, ignored, problems = sort_keys(ctx.json_object(empty_ok=False), _PATCH_KEYS)
    labels = Labels(tags=_map_of(values, "tags", "tag", problems),
                    properties=_map_of(values, "properties", "property", problems),
                    display_name=_text_of(values, "displayName", problems),
                    description=_text_of(values, "description", problems))
    if problems:
        raise refuse(problems)
    return labels, ignored


def _map_of(values: dict[str, Any], name: str, noun: str, problems: list[ErrorDetail]) -> dict[str, Any] | None:
    """`values[name]`, an object of strings (or nulls) whose keys and values follow a run's tags' rules;
    what is wrong with it goes to `problems`."""
    value = values.get(name)
    if value is None:
        return None
    if not (isinstance(value, dict) and all(v is None or isinstance(v, str) for v in value.values())):
        problems.append(ErrorDetail("UserError", f"{name} must be an object of strings (or nulls)", name))
        return None
    problems += [ErrorDetail("UserError", message, target) for target, message in entry_problems(value, name, noun)]
    return value


def _text_of(values: dict[str, Any], name: str, problems: list[ErrorDetail]) -> str | None:
    """`values[name]`, a text under a description's rules; what is wrong with it goes to `problems`."""
    value = values.get(name)
    why = description_problem(value) if isinstance(value, str) else "must be a string"
    if value is not None and why:
        problems.append(ErrorDetail("UserError", f"{name} {why}", name))
        return None
    return value


def _patched(ctx: RequestContext, experiment: str | None) -> Reply:
    labels, ignored = _labels_of(ctx)
    reader().find(ctx.workspace, ctx.param("runId"), experiment)  # a 404 names the run in its experiment
    run = RunLabels(get_account()).patch(ctx.workspace, ctx.param("runId"), labels)
    return Reply(run_dto(ctx, pipeline_record(run)), headers=ignored_keys_header(ignored))


@route("history_patch_run")
def history_patch_run(ctx: RequestContext) -> Reply:
    return _patched(ctx, ctx.experiment_name)


@route("history_patch_run_by_experiment_id")
def history_patch_run_by_experiment_id(ctx: RequestContext) -> Reply:
    return _patched(ctx, Experiments(get_account()).by_id(ctx.workspace, ctx.param("experimentId")).name)


@route("history_delete_run_tags")
def history_delete_run_tags(ctx: RequestContext) -> RunDto:
    """The body is the list of the tags' keys (SDK v1's `run.remove_tags(["a", "b"])`)."""
    keys = ctx.json()
    if not isinstance(keys, list) or not all(isinstance(key, str) for key in keys):
        raise BadRequestError("the body must be the list of the tags' keys to remove", target="tags")
    reader().find(ctx.workspace, ctx.param("runId"), ctx.experiment_name)
    return run_dto(ctx, pipeline_record(RunLabels(get_account()).remove_tags(ctx.workspace, ctx.param("runId"), keys)))


@route("history_update_experiment")
def history_update_experiment(ctx: RequestContext) -> Reply:
    """A ModifyExperimentDto: `archive` (true archives, false reactivates), `description`, `tags`
    (set); a `name` other than the experiment's is a 400 (experiments are not renamed)."""
    experiments = Experiments(get_account())
    experiment = experiments.by_id(ctx.workspace, ctx.param("experimentId"))
    values, ignored, problems = sort_keys(ctx.json_object(empty_ok=False), ("name", "description", "archive", "tags"))
    name, archive = values.get("name"), values.get("archive")
    if name is not None and name != experiment.name:
        problems.append(ErrorDetail("UserError", "an experiment is not renamed: its runs are filed under its name",
                                    "name"))
    if archive is not None and not isinstance(archive, bool):
        problems.append(ErrorDetail("UserError", "archive must be true or false", "archive"))
    description = _text_of(values, "description", problems)
    tags = {key: value or "" for key, value in (_map_of(values, "tags", "tag", problems) or {}).items()}
    if tags:
        problems += grown_problems("tags", experiment.tags, {**experiment.tags, **tags})
    if problems:
        raise refuse(problems)
    changed = experiments.update(experiment, archive=archive, description=description, tags=tags)
    return Reply(experiment_dto(changed), headers=ignored_keys_header(ignored))


@route("history_delete_experiment_tags")
def history_delete_experiment_tags(ctx: RequestContext) -> DeleteTagsResultDto:
    """SDK v1's `experiment.remove_tags(["a", "b"])`: a DeleteTagsCommandDto, `{"tags": [keys]}`."""
    experiments = Experiments(get_account())
    experiment = experiments.by_id(ctx.workspace, ctx.param("experimentId"))
    values, _, problems = sort_keys(ctx.json_object(empty_ok=False), ("tags",))
    keys = values.get("tags")
    if not isinstance(keys, list) or not all(isinstance(key, str) for key in keys):
        raise refuse([*problems, ErrorDetail("UserError", "tags must be the list of the tags' keys to remove", "tags")])
    if problems:
        raise refuse(problems)
    experiments.remove_tags(experiment, keys)
    return DeleteTagsResultDto()
