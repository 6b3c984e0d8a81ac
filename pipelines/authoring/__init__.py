"""Authoring API: build pipelines as with the old SDK, get a definition to publish.

Names follow `azureml.pipeline.core`, `azureml.pipeline.steps` and
`azureml.data`, so porting a pipeline script is mostly an import change:

    from pipelines.authoring import Pipeline, PipelineData, PipelineParameter, PythonScriptStep

Everything here is pure logic: no storage, no HTTP.
"""

from __future__ import annotations

from pipelines.authoring.checks import validate_definition
from pipelines.authoring.coercion import coerce_parameter, format_parameter
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
    SCHEMA_VERSION,
    ArgSpec,
    DataPathValue,
    DatasetValue,
    EdgeSpec,
    InputArg,
    InputSpec,
    LiteralArg,
    OutputArg,
    OutputSpec,
    ParameterArg,
    ParameterSpec,
    PipelineDefinition,
    StepSpec,
    definition_json_schema,
    parse_definition,
)
from pipelines.authoring.pipeline import Pipeline, PipelineBundle, node_id
from pipelines.authoring.snapshot import (
    build_snapshot,
    combined_snapshot_hash,
    extract_snapshot,
    validate_snapshot,
)
from pipelines.authoring.steps import PythonScriptStep
from pipelines.authoring.validation import PipelineValidationError

__all__ = [
    "SCHEMA_VERSION",
    "ArgSpec",
    "DataPath",
    "DataPathComputeBinding",
    "DataPathInput",
    "DataPathValue",
    "DatasetConsumptionConfig",
    "DatasetRef",
    "DatasetValue",
    "EdgeSpec",
    "InputArg",
    "InputSpec",
    "LiteralArg",
    "OutputArg",
    "OutputSpec",
    "ParameterArg",
    "ParameterSpec",
    "Pipeline",
    "PipelineBundle",
    "PipelineData",
    "PipelineDefinition",
    "PipelineParameter",
    "PipelineValidationError",
    "PythonScriptStep",
    "StepSpec",
    "build_snapshot",
    "coerce_parameter",
    "combined_snapshot_hash",
    "definition_json_schema",
    "extract_snapshot",
    "format_parameter",
    "node_id",
    "parse_definition",
    "validate_definition",
    "validate_snapshot",
]
