"""`Pipeline`: steps wired by the data they exchange, checked as a whole.

As in the old SDK, the graph is not drawn by hand: a step that lists a
`PipelineData` in its outputs runs before every step that reads it, and
`b.run_after(a)` orders two steps that exchange no data. Building a `Pipeline`
checks everything at once and raises one `PipelineValidationError` listing
every problem.
"""

from __future__ import annotations

import graphlib
import hashlib
import io
import zipfile
from pathlib import Path
from typing import Any, NamedTuple

from pipelines.authoring.checks import validate_definition
from pipelines.authoring.data import PipelineData, PipelineParameter
from pipelines.authoring.definition import (
    MAX_DESCRIPTION_LENGTH,
    EdgeSpec,
    InputSpec,
    OutputSpec,
    PipelineDefinition,
    StepSpec,
)
from pipelines.authoring.snapshot import build_snapshot, combined_snapshot_hash
from pipelines.authoring.steps import BoundInput, PythonScriptStep, ResolvedStep, resolve_step
from pipelines.authoring.validation import (
    INVALID_GRAPH,
    INVALID_PARAMETER,
    INVALID_PIPELINE,
    INVALID_SNAPSHOT,
    INVALID_STEP,
    Problems,
)


def node_id(step_name: str) -> str:
    """A step's node id: the first 8 hex digits of sha256(name).

    Short and opaque like the old service's node ids, safe as a Table key and
    a path segment, and stable: the same step name always gets the same id.
    """
    return hashlib.sha256(step_name.encode("utf-8")).hexdigest()[:8]


class PipelineBundle(NamedTuple):
    """A definition and the snapshots it names, built from the same files."""

    definition: PipelineDefinition
    snapshots: dict[str, bytes]  # sha256 hex -> zip bytes


class Pipeline:
    """A DAG of steps, like `azureml.pipeline.core.Pipeline`.

    `workspace` is accepted so existing code runs; publishing goes through the
    project's client, which is told where the service is.
    """

    def __init__(
        self,
        workspace: Any = None,
        steps: list[PythonScriptStep] | tuple[PythonScriptStep, ...] = (),
        description: str | None = None,
        continue_on_step_failure: bool = False,
    ) -> None:
        self.workspace = workspace
        self.steps = list(steps or ())
        self.description = description
        self.continue_on_step_failure = continue_on_step_failure
        self._ordered: list[ResolvedStep] = []
        self._parameters: dict[str, PipelineParameter] = {}
        self._producers: dict[int, ResolvedStep] = {}
        self._after: dict[int, list[ResolvedStep]] = {}  # step index -> the steps it runs after
        self.validate()

    # -- checking -----------------------------------------------------------------

    def validate(self) -> None:
        """Check the pipeline (again: scripts may have moved since it was built)."""
        problems = Problems()
        self._check_settings(problems)
        resolved = self._resolve_steps(problems)
        self._producers = self._check_data(resolved, problems)
        self._after = self._check_run_after(resolved, problems)
        self._parameters = self._check_parameters(resolved, problems)
        self._ordered = self._order(resolved, problems)
        problems.raise_if_any("the pipeline")

    def _check_settings(self, problems: Problems) -> None:
        if self.description is not None and (
            not isinstance(self.description, str) or len(self.description) > MAX_DESCRIPTION_LENGTH
        ):
            problems.add(
                INVALID_PIPELINE,
                f"description must be a string of at most {MAX_DESCRIPTION_LENGTH} characters",
                "description",
            )
        if not isinstance(self.continue_on_step_failure, bool):
            problems.add(
                INVALID_PIPELINE, "continue_on_step_failure must be True or False", "continue_on_step_failure"
            )
        if not self.steps:
            problems.add(INVALID_PIPELINE, "a pipeline needs at least one step", "steps")

    def _resolve_steps(self, problems: Problems) -> list[ResolvedStep]:
        resolved: list[ResolvedStep] = []
        seen_objects: set[int] = set()
        names: dict[str, int] = {}
        ids: dict[str, str] = {}
        for index, step in enumerate(self.steps):
            where = f"steps[{index}]"
            if not isinstance(step, PythonScriptStep):
                problems.add(
                    INVALID_STEP, f"step {index} must be a PythonScriptStep, not {type(step).__name__}", where
                )
                continue
            if id(step) in seen_objects:
                problems.add(INVALID_STEP, f"step {step.name!r} is listed twice", where)
                continue
            seen_objects.add(id(step))
            if isinstance(step.name, str):
                if step.name in names:
                    problems.add(
                        INVALID_STEP,
                        f"two steps are named {step.name!r} (steps {names[step.name]} and {index})",
                        f"{where}.name",
                    )
                names.setdefault(step.name, index)
                node = node_id(step.name)
                if ids.setdefault(node, step.name) != step.name:
                    # sha256 prefixes of different names collide about once in 4 billion pairs.
                    problems.add(
                        INVALID_STEP,
                        f"steps {ids[node]!r} and {step.name!r} get the same node id; rename one",
                        f"{where}.name",
                    )
            resolved.append(resolve_step(step, index, problems))
        return resolved

    def _check_data(self, steps: list[ResolvedStep], problems: Problems) -> dict[int, ResolvedStep]:
        producers: dict[int, ResolvedStep] = {}
        by_name: dict[str, PipelineData] = {}

        def register_name(data: PipelineData, target: str) -> None:
            other = by_name.setdefault(data.name, data)
            if other is not data:
                problems.add(
                    INVALID_GRAPH, f"two different PipelineData objects are named {data.name!r}", target
                )

        for step in steps:
            for position, data in enumerate(step.outputs):
                target = f"steps[{step.index}].outputs[{position}]"
                register_name(data, target)
                first = producers.setdefault(id(data), step)
                if first is not step:
                    problems.add(
                        INVALID_GRAPH,
                        f"PipelineData {data.name!r} is an output of both step {first.name!r} and step {step.name!r};"
                        " each must be produced by exactly one step",
                        target,
                    )
        for step in steps:
            for bound in step.inputs.values():
                if not isinstance(bound.source, PipelineData):
                    continue
                target = f"steps[{step.index}].inputs.{bound.name}"
                register_name(bound.source, target)
                if id(bound.source) not in producers:
                    problems.add(
                        INVALID_GRAPH,
                        f"step {step.name!r} reads PipelineData {bound.name!r}, which no step in the pipeline"
                        " produces (list it in the outputs of the step that writes it)",
                        target,
                    )
        return producers

    def _check_run_after(self, steps: list[ResolvedStep], problems: Problems) -> dict[int, list[ResolvedStep]]:
        """`b.run_after(a)`: `a` must be another step of this pipeline."""
        by_object = {id(step.step): step for step in steps}
        after: dict[int, list[ResolvedStep]] = {}
        for step in steps:
            for position, before in enumerate(step.step.run_after_steps):
                target = f"steps[{step.index}].run_after[{position}]"
                if not isinstance(before, PythonScriptStep):
                    problems.add(
                        INVALID_GRAPH,
                        f"step {step.name!r} runs after {type(before).__name__}, which is not a step",
                        target,
                    )
                elif before is step.step:
                    problems.add(INVALID_GRAPH, f"step {step.name!r} cannot run after itself", target)
                elif id(before) not in by_object:
                    problems.add(
                        INVALID_GRAPH,
                        f"step {step.name!r} runs after step {before.name!r}, which is not in the pipeline"
                        " (list it in steps)",
                        target,
                    )
                elif all(other is not by_object[id(before)] for other in after.get(step.index, [])):
                    after.setdefault(step.index, []).append(by_object[id(before)])
        return after

    def _check_parameters(
        self, steps: list[ResolvedStep], problems: Problems
    ) -> dict[str, PipelineParameter]:
        declared: dict[str, tuple[PipelineParameter, str]] = {}
        for step in steps:
            for parameter, target in step.parameters:
                first = declared.setdefault(parameter.name, (parameter, target))
                if first[0] != parameter:
                    problems.add(
                        INVALID_PARAMETER,
                        f"step {step.name!r}: parameter {parameter.name!r} is declared as {parameter.default_value!r}"
                        f" ({parameter.type}) here and as {first[0].default_value!r} ({first[0].type}) at {first[1]}",
                        target,
                    )
        return {name: parameter for name, (parameter, _) in sorted(declared.items())}

    def _order(self, steps: list[ResolvedStep], problems: Problems) -> list[ResolvedStep]:
        by_index = {step.index: step for step in steps}
        sorter: graphlib.TopologicalSorter[int] = graphlib.TopologicalSorter()
        for step in steps:
            sorter.add(step.index, *sorted(producer.index for producer in self._upstream(step)))
        try:
            sorter.prepare()
        except graphlib.CycleError as exc:
            cycle = " -> ".join(repr(by_index[index].name) for index in exc.args[1])
            problems.add(
                INVALID_GRAPH, f"the steps form a cycle through their PipelineData and run_after: {cycle}", "steps"
            )
            return steps
        ordered: list[ResolvedStep] = []
        # Ties go to the author's order, so the same script gives the same definition.
        while sorter.is_active():
            ready = sorted(sorter.get_ready())
            ordered.extend(by_index[index] for index in ready)
            sorter.done(*ready)
        return ordered

    def _upstream(self, step: ResolvedStep) -> list[ResolvedStep]:
        """The steps `step` waits for: the producers of its PipelineData inputs, and run_after's."""
        return [
            self._producers[id(bound.source)]
            for bound in step.inputs.values()
            if isinstance(bound.source, PipelineData) and id(bound.source) in self._producers
        ] + self._after.get(step.index, [])

    # -- the published form -----------------------------------------------------------

    @property
    def parameters(self) -> dict[str, PipelineParameter]:
        """Every PipelineParameter the steps use, by name."""
        return dict(self._parameters)

    def bundle(self) -> PipelineBundle:
        """The definition and its snapshots, zipped once from the files as they are now."""
        self.validate()
        problems = Problems()
        by_directory: dict[Path, tuple[bytes, str]] = {}
        for step in self._ordered:
            if step.source_directory not in by_directory:
                by_directory[step.source_directory] = build_snapshot(step.source_directory)
            data, _ = by_directory[step.source_directory]
            if step.script_name not in zipfile.ZipFile(io.BytesIO(data)).namelist():
                problems.add(
                    INVALID_SNAPSHOT,
                    f"step {step.name!r}: script {step.script_name!r} is excluded from the snapshot"
                    " (by .amlignore/.gitignore or a built-in exclusion)",
                    f"steps[{step.index}].script_name",
                )
        edges = self._edges(problems)
        problems.raise_if_any("the pipeline")
        specs = [self._step_spec(step, by_directory[step.source_directory][1]) for step in self._ordered]
        definition = PipelineDefinition(
            description=self.description,
            continue_on_step_failure=self.continue_on_step_failure,
            parameters=[parameter.to_spec() for parameter in self._parameters.values()],
            steps=specs,
            edges=edges,
            snapshot=combined_snapshot_hash(spec.snapshot for spec in specs),
        )
        # What we publish must pass the server's own check; failing here is our bug.
        validate_definition(definition)
        return PipelineBundle(definition, {digest: data for data, digest in by_directory.values()})

    def to_definition(self) -> PipelineDefinition:
        return self.bundle().definition

    def snapshots(self) -> dict[str, bytes]:
        """{sha256 hex: zip bytes} of every distinct source directory."""
        return self.bundle().snapshots

    def _step_spec(self, step: ResolvedStep, snapshot: str) -> StepSpec:
        raw = step.step
        return StepSpec(
            id=node_id(step.name),
            name=step.name,
            script_name=step.script_name,
            snapshot=snapshot,
            arguments=step.arguments,
            inputs=[self._input_spec(bound) for bound in step.inputs.values()],
            outputs=[OutputSpec(name=data.name, datastore=data.datastore_name) for data in step.outputs],
            allow_reuse=raw.allow_reuse,
            max_retries=raw.max_retries,
            idempotent=raw.idempotent,
            timeout_seconds=raw.timeout_seconds,
            fresh_interpreter=raw.fresh_interpreter,
            compute_target=raw.compute_target,
            requirements=list(raw.requirements),
        )

    def _input_spec(self, bound: BoundInput) -> InputSpec:
        source = bound.source
        if isinstance(source, PipelineData):
            producer = self._producers[id(source)]
            return InputSpec(
                name=bound.name,
                kind="step_output",
                source_step=node_id(producer.name),
                source_output=source.name,
                mode=bound.mode,
            )
        if isinstance(source, PipelineParameter):
            return InputSpec(name=bound.name, kind=bound.kind, parameter=source.name, mode=bound.mode)
        return InputSpec(name=bound.name, kind=bound.kind, fixed=source.to_value(), mode=bound.mode)

    def _edges(self, problems: Problems) -> list[EdgeSpec]:
        """Data edges (an output into an input), then ordering edges for run_after (no data:
        `from_output` and `to_input` are None), each pair once and only where no data edge
        already orders it. The worker makes every edge's source a parent of its sink."""
        edges: list[EdgeSpec] = []
        for step in self._ordered:
            for bound in step.inputs.values():
                if isinstance(bound.source, PipelineData):
                    producer = self._producers[id(bound.source)]
                    edges.append(
                        EdgeSpec(
                            from_step=node_id(producer.name),
                            from_output=bound.source.name,
                            to_step=node_id(step.name),
                            to_input=bound.name,
                        )
                    )
        ordered = {(edge.from_step, edge.to_step) for edge in edges}
        for step in self._ordered:
            for before in self._after.get(step.index, []):
                pair = (node_id(before.name), node_id(step.name))
                if pair in ordered:
                    continue
                ordered.add(pair)
                edges.append(EdgeSpec(from_step=pair[0], to_step=pair[1]))
        return edges

    # -- publishing ---------------------------------------------------------------------

    def publish(
        self,
        name: str,
        description: str | None = None,
        version: str | None = None,
        continue_on_step_failure: bool | None = None,
        workspace: Any = None,
    ) -> Any:
        """Publish to the service (the old SDK's `pipeline.publish`).

        Authoring stays pure logic: the HTTP call is the client's
        (`pipelines.client.publish`), imported only here. `workspace` defaults to
        the one given to `Pipeline(workspace=...)`, else `Workspace.from_env()`.
        """
        from pipelines.client import Workspace, publish

        target = workspace or self.workspace or Workspace.from_env()
        return publish(target, self, name, description, version, continue_on_step_failure)
