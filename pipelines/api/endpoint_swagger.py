"""The Swagger document of one pipeline endpoint: what its `SwaggerUrl` answers.

Azure ML gave each pipeline endpoint a Swagger URL (SDK v1's `PipelineEndpoint.swaggerurl`)
describing how to submit to it, which tools that build a client or a connector from Swagger
(a Logic Apps custom connector, AutoRest) read. This one is Swagger 2.0, as theirs was: one
operation, the submit of the endpoint's default version, with that version's parameters as
the keys of `ParameterAssignments` (their types and defaults), and the answer a
PipelineRunEntity. The whole contract is the repository's `openapi.json`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from pipelines.authoring.definition import PipelineDefinition

_SCALAR_TYPES = {"string": "string", "int": "integer", "float": "number", "bool": "boolean"}
_TEXT = {"type": "string"}
_LABELS = {"type": "object", "additionalProperties": _TEXT}
_PATH = {"type": "object", "properties": {"DataStoreName": _TEXT, "RelativePath": _TEXT}}


def endpoint_swagger(*, name: str, description: str | None, version: str, submit_url: str,
                     definition: PipelineDefinition) -> dict[str, Any]:
    """The document for the endpoint whose submit URL is `submit_url`, its default `version`
    published as `definition`."""
    parts = urlsplit(submit_url)
    base, _, operation_path = parts.path.partition("/PipelineRuns/")
    scalars = {spec.name: {"type": _SCALAR_TYPES[spec.type], "default": spec.default}
               for spec in definition.parameters if spec.type in _SCALAR_TYPES}
    datapaths = {spec.name: _PATH for spec in definition.parameters if spec.type == "datapath"}
    datasets = {spec.name: {"type": "object", "description": "{\"SavedDataSetReference\": {\"Id\"}}, "
                            "{\"DataSetReference\": {\"Id\", \"Name\", \"Version\"}} or {\"LiteralValue\": "
                            "{\"DataStoreName\", \"RelativePath\"}}"}
                for spec in definition.parameters if spec.type == "dataset"}
    request = {
        "type": "object",
        "properties": {
            "ExperimentName": _TEXT,
            "Description": _TEXT,
            "RunSource": _TEXT,
            "ParameterAssignments": {"type": "object", "properties": scalars, "additionalProperties": False},
            "DataPathAssignments": {"type": "object", "properties": datapaths, "additionalProperties": False},
            "DataSetDefinitionValueAssignments": {"type": "object", "properties": datasets,
                                                  "additionalProperties": False},
            "Tags": _LABELS,
            "Properties": _LABELS,
            "ContinueRunOnStepFailure": {"type": "boolean"},
        },
    }
    return {
        "swagger": "2.0",
        "info": {"title": name, "description": description or "", "version": version},
        "host": parts.netloc,
        "basePath": base,
        "schemes": [parts.scheme],
        "securityDefinitions": {"Bearer": {
            "type": "apiKey", "in": "header", "name": "Authorization",
            "description": "Bearer <an Entra ID access token for the app, with the Pipelines.Submit role>",
        }},
        "security": [{"Bearer": []}],
        "paths": {f"/PipelineRuns/{operation_path}": {"post": {
            "operationId": "SubmitPipelineRun",
            "summary": f"Run the default version ({version}) of the pipeline endpoint {name}",
            "consumes": ["application/json"],
            "produces": ["application/json"],
            "parameters": [{"name": "body", "in": "body", "required": False,
                            "schema": {"$ref": "#/definitions/SubmitRequest"}}],
            "responses": {
                "200": {"description": "The run, created", "schema": {"$ref": "#/definitions/PipelineRunEntity"}},
                "default": {"description": "The error JSON: {\"Error\": {\"Code\", \"Message\", \"Target\", "
                                           "\"Details\"}, \"Correlation\": {\"RequestId\"}}"},
            },
        }}},
        "definitions": {
            "SubmitRequest": request,
            "PipelineRunEntity": {"type": "object", "properties": {
                "Id": _TEXT, "Status": {"type": "object", "properties": {"StatusCode": {"type": "integer"}}},
                "PipelineId": _TEXT, "PipelineEndpointId": _TEXT, "PipelineVersion": _TEXT,
            }},
        },
    }
