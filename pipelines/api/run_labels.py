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
from pipelines.api.history_contract import RunDto
from pipelines.api.http import Reply, RequestContext, route
from pipelines.errors import BadRequestError, ErrorDetail
from pipelines.runs.body_keys import sort_keys
from pipelines.runs.experiments import Experiments
from pipelines.runs.history import pipeline_record
from pipelines.runs.labels import Labels, RunLabels
from pipelines.runs.request import refuse
from pipelines.store import get_account
from pipelines.text import description_problem, entry_problems, tags_problems

# The keys of SDK v1's CreateRunDto a PATCH reads; the others are ignored and listed.
_PATCH_KEYS = ("runId", "tags", "properties", "displayName", "description")


def _labels_of(ctx: RequestContext) -> tuple[Labels, list[str]]:
    """A CreateRunDto body as the change it asks: `tags`, `properties`, `displayName`, `description`
    (keys in any case); its `runId` is read and passed over (the path names the run); every other key is
    ignored and listed."""
    values, ignored, problems = sort_keys(ctx.json_object(empty_ok=False), _PATCH_KEYS)
    maps: dict[str, dict[str, Any] | None] = {}
    for name, noun in (("tags", "tag"), ("properties", "property")):
        value = values.get(name)
        if value is not None and not (isinstance(value, dict)
                                      and all(v is None or isinstance(v, str) for v in value.values())):
            problems.append(ErrorDetail("UserError", f"{name} must be an object of strings (or nulls)", name))
            value = None
        maps[name] = value
        problems += [ErrorDetail("UserError", message, target)
                     for target, message in entry_problems(value or {}, name, noun)]
    texts: dict[str, str | None] = {}
    for name in ("displayName", "description"):
        value = values.get(name)
        why = None if value is None or not isinstance(value, str) else description_problem(value)
        if value is not None and (not isinstance(value, str) or why):
            problems.append(ErrorDetail("UserError", f"{name} {why or 'must be a string'}", name))
            value = None
        texts[name] = value
    if problems:
        raise refuse(problems)
    labels = Labels(tags=maps["tags"], properties=maps["properties"], display_name=texts["displayName"],
                    description=texts["description"])
    return labels, ignored


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
    name, archive, description, tags = (values.get(k) for k in ("name", "archive", "description", "tags"))
    if name is not None and name != experiment.name:
        problems.append(ErrorDetail("UserError", "an experiment is not renamed: its runs are filed under its name",
                                    "name"))
    if archive is not None and not isinstance(archive, bool):
        problems.append(ErrorDetail("UserError", "archive must be true or false", "archive"))
    why = description_problem(description) if isinstance(description, str) else None
    if description is not None and (not isinstance(description, str) or why):
        problems.append(ErrorDetail("UserError", f"description {why or 'must be a string'}", "description"))
    if tags is not None and not (isinstance(tags, dict) and all(isinstance(v, str | None) for v in tags.values())):
        problems.append(ErrorDetail("UserError", "tags must be an object of strings (or nulls)", "tags"))
    elif tags:
        merged = {**experiment.tags, **{key: value or "" for key, value in tags.items()}}
        problems += [ErrorDetail("UserError", message, target)
                     for target, message in tags_problems(merged, "tags")]
    if problems:
        raise refuse(problems)
    changed = experiments.update(experiment, archive=archive, description=description,
                                 tags={key: value or "" for key, value in (tags or {}).items()})
    return Reply(experiment_dto(changed), headers=ignored_keys_header(ignored))
