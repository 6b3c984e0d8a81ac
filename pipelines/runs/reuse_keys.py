"""A step's reuse key: a sha256 over everything that can change what the step writes.

Two executions with one key are the same computation, so the second may take the
first's outputs (`pipelines.runs.reuse`). The key holds:

- the code: the step's snapshot (the sha256 of its source folder), its script, and
  whether it runs in a fresh interpreter; the environment: the Python version and the
  app's version (steps run with the app's packages);
- its arguments as the worker builds them (literals, parameter values as text, input
  and output names), in their order;
- the value of every scalar parameter of the run, by name: a step sees all of them
  (`Run.get_context().parameters`), not only those in its arguments;
- each input, by name, by its content: an upstream output by the digest the worker
  recorded when it uploaded it (`OutputSummary.sha256`: paths, sizes, contents), a
  dataset or datapath by the digest of the files it resolves to
  (`pipelines.data.digests`);
- the names of its outputs.

Not in it: the run's id, tags, experiment and attempt number, the pipeline and node it
belongs to. These are labels; a step whose outputs depend on them declares
`allow_reuse=False`. Steps declare no environment variables in this definition format:
the worker's environment is the app's, which its version stands for.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Mapping
from typing import Any

from pipelines.authoring.coercion import format_parameter
from pipelines.authoring.definition import (
    SCALAR_PARAMETER_TYPES,
    InputArg,
    LiteralArg,
    OutputArg,
    ParameterArg,
    PipelineDefinition,
    StepSpec,
)
from pipelines.version import __version__

# Changing what goes into a key (or how) changes this, so old keys are never matched.
KEY_VERSION = 1
ENVIRONMENT = f"python {sys.version_info.major}.{sys.version_info.minor}; pipelines {__version__}"


class NoKey(ValueError):
    """The step's key cannot be computed (an input's digest is unknown): it is not reused."""


def step_key(
    step: StepSpec,
    definition: PipelineDefinition,
    parameters: Mapping[str, Any],
    inputs: Mapping[str, str],
    environment: str = ENVIRONMENT,
) -> str:
    """The key of `step` run with `parameters` (the run's values; defaults fill the rest) and
    `inputs` (input name -> content digest, every input of the step)."""
    specs = {p.name: p for p in definition.parameters}

    def text(name: str) -> str:
        spec = specs.get(name)
        if spec is None:
            raise NoKey(f"the step names a parameter {name!r} the pipeline does not have")
        try:
            return format_parameter(spec, parameters.get(name, spec.default))
        except ValueError as exc:
            raise NoKey(str(exc)) from None

    arguments: list[list[str]] = []
    for arg in step.arguments:
        if isinstance(arg, LiteralArg):
            arguments.append(["literal", arg.value])
        elif isinstance(arg, ParameterArg):
            arguments.append(["parameter", arg.name, text(arg.name)])
        elif isinstance(arg, InputArg):
            arguments.append(["input", arg.name])
        elif isinstance(arg, OutputArg):
            arguments.append(["output", arg.name])
    missing = sorted(spec.name for spec in step.inputs if spec.name not in inputs)
    if missing:
        raise NoKey(f"no digest for the inputs {missing}")
    document = {
        "version": KEY_VERSION,
        "environment": environment,
        "snapshot": step.snapshot,
        "script": step.script_name,
        "fresh_interpreter": step.fresh_interpreter,
        "arguments": arguments,
        "parameters": {
            name: [spec.type, text(name)] for name, spec in specs.items() if spec.type in SCALAR_PARAMETER_TYPES
        },
        "inputs": {spec.name: [spec.kind, spec.mode, inputs[spec.name]] for spec in step.inputs},
        "outputs": sorted(output.name for output in step.outputs),
    }
    if step.compute_target is not None:
        # Another target is another environment (its image and packages): its outputs are its own. Left
        # out for the app, so the keys of steps published before compute targets are unchanged.
        document["compute_target"] = step.compute_target
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8", errors="surrogatepass")).hexdigest()
