"""`PythonScriptStep` and how its arguments and inputs become a step spec.

The constructor only records what the author wrote (as the old SDK did);
`resolve_step` turns it into plain specs while the pipeline is built, adding
every problem it finds to the pipeline's list so the author sees them all at
once, each naming the step and the argument.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pipelines.authoring.data import (
    DataPath,
    DataPathComputeBinding,
    DataPathInput,
    DatasetConsumptionConfig,
    DatasetRef,
    PipelineData,
    PipelineParameter,
)
from pipelines.authoring.definition import (
    COMPUTE_TARGET_PATTERN,
    MAX_LITERAL_LENGTH,
    SCALAR_PARAMETER_TYPES,
    ArgSpec,
    InputArg,
    LiteralArg,
    OutputArg,
    ParameterArg,
)
from pipelines.authoring.names import compute_target_name, display_name_problem, identifier_problem
from pipelines.authoring.paths import UnsafePathError, safe_relative_path
from pipelines.authoring.requirements import requirement_problem
from pipelines.authoring.validation import (
    INVALID_ARGUMENT,
    INVALID_INPUT,
    INVALID_OUTPUT,
    INVALID_STEP,
    Problems,
)

InputKind = Literal["step_output", "dataset", "datapath"]
MAX_RETRIES = 100

_BIND_HINT = (
    "bind it as an input: (x, DataPathComputeBinding()) or x.as_input(name) for a datapath,"
    " DatasetConsumptionConfig(name, x) for a dataset"
)


class PythonScriptStep:
    """Run `script_name` from `source_directory` with `arguments`, like the old SDK's step.

    `source_directory` defaults to the current directory when the step is
    created (as the old SDK did); it is resolved at once, so a later `chdir`
    does not change which code is published. `compute_target` names the
    compute target the step runs on (a name, or an SDK v1 compute object: its
    `.name`); none, or "app", is the app itself. It must exist when the
    pipeline is published and when it is submitted (`pipelines target set`).
    `requirements` (not in the old SDK) lists pip requirements the target must
    promise; publish refuses the step otherwise. `runconfig` is accepted so
    existing code runs, and ignored.

    A step runs at least once: if its worker is lost after the script exited
    but before the result was recorded, the step runs again as a new attempt.
    `idempotent=False` (not in the old SDK) says running it twice would do
    harm: such a step is failed with that reason instead of run again, unless
    the run was submitted with `AllowStepReruns`.

    A step's script runs in a process of its own, forked from a warm
    interpreter that has `pipelines.runtime` and much of the standard library
    imported already. `fresh_interpreter=True` (not in the old SDK) starts a
    new interpreter for it instead, for a script that needs one (that must
    not find those modules imported, or reads interpreter settings such as
    PYTHONHASHSEED afresh); it starts some tens of milliseconds later.
    """

    def __init__(
        self,
        script_name: str,
        name: str | None = None,
        arguments: list[Any] | tuple[Any, ...] = (),
        inputs: list[Any] | tuple[Any, ...] = (),
        outputs: list[Any] | tuple[Any, ...] = (),
        source_directory: str | os.PathLike[str] | None = None,
        allow_reuse: bool = True,
        max_retries: int = 0,
        timeout_seconds: int | None = None,
        compute_target: Any = None,
        runconfig: Any = None,
        idempotent: bool = True,
        fresh_interpreter: bool = False,
        requirements: list[str] | tuple[str, ...] = (),
    ) -> None:
        self.script_name = script_name
        self.name = name if name is not None else script_name
        self.arguments = list(arguments or ())
        self.inputs = list(inputs or ())
        self.outputs = list(outputs or ())
        directory = source_directory if source_directory is not None else os.getcwd()
        self.source_directory: Path | Any = (
            Path(directory).resolve() if isinstance(directory, (str, os.PathLike)) else directory
        )
        self.allow_reuse = allow_reuse
        self.max_retries = max_retries
        self.timeout_seconds = timeout_seconds
        self.compute_target = compute_target_name(compute_target)
        if isinstance(requirements, str):
            raise TypeError("requirements is a list of pip requirements, such as ['numpy>=1.26'], not one string")
        self.requirements = list(requirements or ())
        self.runconfig = runconfig
        self.idempotent = idempotent
        self.fresh_interpreter = fresh_interpreter
        self._run_after: list[Any] = []

    def run_after(self, step: Any) -> None:
        """Run this step only after `step` has finished, though no data passes between them
        (SDK v1's `run_after`). Both must be in the pipeline's steps; checked when it is built."""
        self._run_after.append(step)

    @property
    def run_after_steps(self) -> list[Any]:
        """The steps given to `run_after`, in order."""
        return list(self._run_after)

    def __repr__(self) -> str:
        return f"PythonScriptStep(name={self.name!r}, script_name={self.script_name!r})"


@dataclass
class BoundInput:
    """An input after binding: where the worker gets it from, and how."""

    name: str
    kind: InputKind
    source: PipelineData | DataPath | DatasetRef | PipelineParameter
    mode: Literal["mount", "download"] = "mount"

    def same_as(self, other: BoundInput) -> bool:
        if self.kind != other.kind or self.mode != other.mode:
            return False
        if isinstance(self.source, PipelineData):
            return self.source is other.source  # PipelineData is its own identity
        return bool(self.source == other.source)


@dataclass
class ResolvedStep:
    """A step with its arguments and inputs checked and turned into specs."""

    step: PythonScriptStep
    index: int
    name: str
    script_name: str
    source_directory: Path
    arguments: list[ArgSpec] = field(default_factory=list)
    inputs: dict[str, BoundInput] = field(default_factory=dict)
    outputs: list[PipelineData] = field(default_factory=list)
    # Every PipelineParameter the step uses, with where it is used (a target).
    parameters: list[tuple[PipelineParameter, str]] = field(default_factory=list)

    def produces(self, data: PipelineData) -> bool:
        return any(output is data for output in self.outputs)


class _Resolver:
    def __init__(self, step: PythonScriptStep, index: int, problems: Problems) -> None:
        self.step = step
        self.where = f"steps[{index}]"
        self.label = f"step {step.name!r}"
        self.problems = problems
        self.resolved = ResolvedStep(
            step=step,
            index=index,
            name=step.name,
            script_name="",
            source_directory=step.source_directory if isinstance(step.source_directory, Path) else Path(),
        )

    def add(self, code: str, message: str, target: str) -> None:
        self.problems.add(code, f"{self.label}: {message}", target)

    # -- the step's own settings -----------------------------------------------------

    def check_settings(self) -> None:
        step, where = self.step, self.where
        reason = display_name_problem(step.name)
        if reason:
            self.problems.add(INVALID_STEP, f"step name {step.name!r} {reason}", f"{where}.name")
        if not isinstance(step.allow_reuse, bool):
            self.add(INVALID_STEP, "allow_reuse must be True or False", f"{where}.allow_reuse")
        if not isinstance(step.idempotent, bool):
            self.add(INVALID_STEP, "idempotent must be True or False", f"{where}.idempotent")
        if not isinstance(step.fresh_interpreter, bool):
            self.add(INVALID_STEP, "fresh_interpreter must be True or False", f"{where}.fresh_interpreter")
        retries = step.max_retries
        if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= MAX_RETRIES:
            self.add(
                INVALID_STEP,
                f"max_retries must be an integer from 0 to {MAX_RETRIES}",
                f"{where}.max_retries",
            )
        timeout = step.timeout_seconds
        if timeout is not None and (
            isinstance(timeout, bool) or not isinstance(timeout, int) or timeout <= 0
        ):
            self.add(
                INVALID_STEP, "timeout_seconds must be a positive integer or None", f"{where}.timeout_seconds"
            )

        target = step.compute_target
        if target is not None and not (re.match(COMPUTE_TARGET_PATTERN, target) and len(target) <= 32):
            self.add(
                INVALID_STEP,
                f"compute_target {target!r} is not a compute target's name: 1 to 32 lowercase letters, digits"
                " and single dashes, starting with a letter",
                f"{where}.compute_target",
            )
        for position, requirement in enumerate(step.requirements):
            problem = requirement_problem(requirement)
            if problem:
                self.add(INVALID_STEP, f"requirement {problem}", f"{where}.requirements[{position}]")

    def check_script(self) -> None:
        step, where = self.step, self.where
        directory = step.source_directory
        if not isinstance(directory, Path) or not directory.is_dir():
            self.add(
                INVALID_STEP,
                f"source_directory {str(directory)!r} is not a folder",
                f"{where}.source_directory",
            )
            return
        try:
            script = safe_relative_path(step.script_name)
        except UnsafePathError as exc:
            self.add(INVALID_STEP, f"script_name: {exc}", f"{where}.script_name")
            return
        self.resolved.script_name = script
        path = directory / script
        # The snapshot refuses links; checking here names the step in the error.
        if path.is_symlink() or not path.is_file() or not path.resolve().is_relative_to(directory):
            self.add(
                INVALID_STEP,
                f"script {script!r} is not a file inside source_directory {str(directory)!r}",
                f"{where}.script_name",
            )

    # -- outputs, inputs, arguments ---------------------------------------------------

    def collect_outputs(self) -> None:
        names: dict[str, PipelineData] = {}
        for position, output in enumerate(self.step.outputs):
            target = f"{self.where}.outputs[{position}]"
            if not isinstance(output, PipelineData):
                self.add(
                    INVALID_OUTPUT,
                    f"output {position} must be a PipelineData, not {type(output).__name__}",
                    target,
                )
                continue
            if output.name in names:
                if names[output.name] is not output:
                    self.add(INVALID_OUTPUT, f"two outputs are named {output.name!r}", target)
                continue
            names[output.name] = output
            self.resolved.outputs.append(output)

    def collect_inputs(self) -> None:
        for position, item in enumerate(self.step.inputs):
            self.bind(item, f"{self.where}.inputs[{position}]", f"input {position}")

    def bind(self, item: Any, target: str, what: str) -> BoundInput | None:
        bound = self._bound(item, target, what)
        if bound is None:
            return None
        reason = identifier_problem(bound.name)
        if reason:
            self.add(INVALID_INPUT, f"{what}: input name {bound.name!r} {reason}", target)
            return None
        if any(output.name == bound.name for output in self.resolved.outputs):
            if isinstance(bound.source, PipelineData) and self.resolved.produces(bound.source):
                self.add(
                    INVALID_INPUT, f"{what}: the step reads {bound.name!r}, which it also writes", target
                )
            else:
                self.add(INVALID_INPUT, f"{what}: {bound.name!r} is both an input and an output", target)
            return None
        existing = self.resolved.inputs.get(bound.name)
        if existing is not None:
            if not existing.same_as(bound):
                self.add(INVALID_INPUT, f"{what}: two different inputs are named {bound.name!r}", target)
                return None
            return existing
        self.resolved.inputs[bound.name] = bound
        if isinstance(bound.source, PipelineParameter):
            self.resolved.parameters.append((bound.source, target))
        return bound

    def _bound(self, item: Any, target: str, what: str) -> BoundInput | None:
        if isinstance(item, PipelineData):
            return BoundInput(item.name, "step_output", item)
        if isinstance(item, DataPathInput):
            return BoundInput(item.name, "datapath", item.source, item.mode)
        if isinstance(item, DatasetConsumptionConfig):
            return BoundInput(item.name, "dataset", item.dataset, item.staging_mode)
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], DataPathComputeBinding):
            source, binding = item
            if isinstance(source, PipelineParameter) and source.type == "datapath":
                return BoundInput(source.name, "datapath", source, binding.mode)
            if isinstance(source, DataPath):
                if source.name is None:
                    self.add(
                        INVALID_INPUT,
                        f"{what}: a DataPath bound as an input needs a name (DataPath(..., name=))",
                        target,
                    )
                    return None
                return BoundInput(source.name, "datapath", source, binding.mode)
            self.add(
                INVALID_INPUT,
                f"{what}: a DataPathComputeBinding goes with a DataPath or a datapath PipelineParameter,"
                f" not {_describe(source)}",
                target,
            )
            return None
        self.add(INVALID_INPUT, f"{what}: {_describe(item)} cannot be an input; {_BIND_HINT}", target)
        return None

    def collect_arguments(self) -> None:
        previous: Any = None
        for position, arg in enumerate(self.step.arguments):
            target = f"{self.where}.arguments[{position}]"
            what = f"argument {position}"
            if isinstance(previous, str) and previous.startswith("-"):
                what += f" (after {previous!r})"
            spec = self._argument(arg, target, what)
            if spec is not None:
                self.resolved.arguments.append(spec)
            previous = arg

    def _argument(self, arg: Any, target: str, what: str) -> ArgSpec | None:
        if isinstance(arg, (str, int, float)):  # bool is an int: str(True) == "True", as the old SDK sent
            text = str(arg)
            if "\x00" in text or len(text) > MAX_LITERAL_LENGTH:
                self.add(
                    INVALID_ARGUMENT,
                    f"{what}: a literal must hold no NUL and at most {MAX_LITERAL_LENGTH} characters",
                    target,
                )
                return None
            return LiteralArg(value=text)
        if isinstance(arg, PipelineParameter):
            if arg.type not in SCALAR_PARAMETER_TYPES:
                self.add(
                    INVALID_ARGUMENT,
                    f"{what}: {arg.type} parameter {arg.name!r} cannot be an argument by itself; {_BIND_HINT}",
                    target,
                )
                return None
            self.resolved.parameters.append((arg, target))
            return ParameterArg(name=arg.name)
        if isinstance(arg, PipelineData) and self.resolved.produces(arg):
            return OutputArg(name=arg.name)
        if isinstance(arg, (PipelineData, DataPathInput, DatasetConsumptionConfig, tuple)):
            bound = self.bind(arg, target, what)
            return InputArg(name=bound.name) if bound is not None else None
        if isinstance(arg, (DataPath, DatasetRef)):
            self.add(INVALID_ARGUMENT, f"{what}: {_describe(arg)} must be bound first; {_BIND_HINT}", target)
            return None
        self.add(INVALID_ARGUMENT, f"{what}: unsupported argument type {type(arg).__name__}", target)
        return None


def _describe(item: Any) -> str:
    if isinstance(item, PipelineParameter):
        return f"{item.type} parameter {item.name!r}"
    return type(item).__name__


def resolve_step(step: PythonScriptStep, index: int, problems: Problems) -> ResolvedStep:
    """Check one step and turn it into specs; problems go to `problems`."""
    resolver = _Resolver(step, index, problems)
    resolver.check_settings()
    resolver.check_script()
    # Outputs first, so an argument that is one of them becomes an output arg.
    resolver.collect_outputs()
    resolver.collect_inputs()
    resolver.collect_arguments()
    return resolver.resolved
