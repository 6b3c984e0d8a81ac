"""The OpenAPI 3.1 document of the HTTP API, generated from the route table.

    python -m pipelines.api.openapi          # rewrite openapi.json at the repository root
    python -m pipelines.api.openapi --check  # exit 1 when the committed file is stale

Paths, methods and roles come from `pipelines.api.routes.DOCUMENTED`; every route
needs an entry in `OPERATIONS` (`pipelines.api.openapi_operations`; the
generator refuses to run otherwise), so a new route cannot go undocumented.
Schemas come from the pydantic wire models: answers as they are written,
bodies as they are read (`pipelines.api.bodies` for those the handlers still
read as plain dicts; `pipelines.api.answers` holds the smaller answers).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode
from pydantic_core import core_schema

from pipelines.api import answers, bodies, events_contract, targets_contract
from pipelines.api import automation_contract as automation
from pipelines.api import openapi_history as history
from pipelines.api.contract import PipelineEndpointEntity, PipelineEntity, PipelineRunEntity, TaskStatusEntity
from pipelines.api.data import DatasetEntity, DatastoreEntity, UploadEntity
from pipelines.api.openapi_operations import OPERATIONS, PARAMETERS, PATH, QUERY, REQUIRED_QUERY
from pipelines.api.openapi_parts import JSON, Op, param, ref, text, use
from pipelines.api.routes import DOCUMENTED, Route
from pipelines.auth.permissions import GRANTS, Permission
from pipelines.authoring.definition import PipelineDefinition
from pipelines.generated import write_or_check

OPENAPI_PATH = Path(__file__).resolve().parents[2] / "openapi.json"
SERVER = "http://127.0.0.1:7071"


class _AllRequired(GenerateJsonSchema):
    """Answers serialise every field, `None` included (contract.py): all of them are required."""

    def field_is_required(
        self,
        field: core_schema.ModelField | core_schema.DataclassField | core_schema.TypedDictField,
        total: bool,
    ) -> bool:
        return self.mode == "serialization" or super().field_is_required(field, total)


# Wire models: answers in serialization mode, bodies (the published definition too) as they are read.
MODELS: tuple[tuple[type[BaseModel], JsonSchemaMode], ...] = (
    (PipelineEntity, "serialization"),
    (PipelineEndpointEntity, "serialization"),
    (PipelineRunEntity, "serialization"),
    (TaskStatusEntity, "serialization"),
    (DatastoreEntity, "serialization"),
    (UploadEntity, "serialization"),
    (DatasetEntity, "serialization"),
    (PipelineDefinition, "validation"),
    *bodies.MODELS,
    *answers.MODELS,
    *history.MODELS,
    *automation.MODELS,
    *events_contract.MODELS,
    *targets_contract.MODELS,
)

_ENTITY_STATUS = "0 Active, 1 Deprecated, 2 Disabled."
NOTES: dict[tuple[str, str], str] = {
    ("RunStatusEntity", "StatusCode"): "0 NotStarted, 1 Running, 2 Failed, 3 Finished, 4 Canceled.",
    ("TaskStatusEntity", "StatusCode"): "0 NotStarted, 1 Queued, 2 Running, 3 Failed, 4 Finished, 5 Canceled,"
    " 6 PartiallyExecuted, 7 Bypassed.",
    ("PipelineEntity", "EntityStatus"): _ENTITY_STATUS,
    ("PipelineEndpointEntity", "EntityStatus"): _ENTITY_STATUS,
    ("PipelineRunEntity", "EntityStatus"): _ENTITY_STATUS,
    ("PipelineEntity", "Url"): "The submit URL of this pipeline.",
    ("PipelineEndpointEntity", "Url"): "The submit URL of the endpoint's default version.",
    ("PipelineRunEntity", "DataSetDefinitionValueAssignments"): "Name to the DataSetAssignment resolved.",
    ("PipelineEntity", "DataSetDefinitionValueAssignments"): "Name to its default DataSetAssignment.",
}


def schemas() -> dict[str, JSON]:
    """Components: every wire model and the models it refers to, with the notes above."""
    found: dict[str, JSON] = {}

    def add(name: str, schema: JSON) -> None:
        if found.get(name, schema) != schema:
            raise ValueError(f"two different schemas are called {name!r}")
        found[name] = schema

    for model, mode in MODELS:
        schema = model.model_json_schema(
            by_alias=True, ref_template="#/components/schemas/{model}", mode=mode,
            schema_generator=_AllRequired,
        )
        for name, sub in [*schema.pop("$defs", {}).items(), (model.__name__, schema)]:
            for member in sub.get("properties", {}).values():
                member.pop("title", None)  # pydantic's "Graphid" and the like: noise beside the key
            add(name, sub)
    for (name, key), note in (NOTES | history.NOTES).items():
        found[name]["properties"][key]["description"] = note
    for (name, key), target in automation.LINKS.items():
        member = found[name]["properties"][key]
        found[name]["properties"][key] = {"anyOf": [ref(target), {"type": "null"}],
                                          **({"description": member["description"]} if "description" in member
                                             else {})}
    return dict(sorted(found.items()))


# -- headers and responses -----------------------------------------------------------------------------
HEADERS: dict[str, JSON] = {
    "RequestId": {"description": "The request id, as in Correlation.RequestId.", "schema": text()},
    "Continuation": {"description": "Present when more remain: pass it back as ?continuationToken=.",
                     "schema": text()},
    "IgnoredKeys": {"description": "The body's top-level keys that nothing read (accepted, as Azure ML accepted"
                                   " them): percent-encoded, comma-separated.", "schema": text(),
                    "x-header": "x-ms-ignored-keys"},
    "WWWAuthenticate": {"description": 'Bearer error="...", error_description="..."', "schema": text()},
}
ERRORS: dict[int, tuple[str, str]] = {
    400: ("BadRequest", "Malformed JSON, wrong types, a bad workspace name, path or parameter (`UserError`,"
                        " `InvalidParameter`); `Details` lists every bad key."),
    401: ("Unauthorized", "No, expired or invalid token (`Unauthorized`)."),
    403: ("Forbidden", "The token lacks the role this operation needs (`Forbidden`)."),
    404: ("NotFound", "Unknown entity (`NotFound`)."),
    409: ("Conflict", "A conflict with the stored state (`UserError`, `EntityDisabled`)."),
    411: ("LengthRequired", "A body sent with Transfer-Encoding and no Content-Length, which Azure Functions"
                            " does not pass on (`LengthRequired`): send it with a Content-Length."),
    412: ("PreconditionFailed", "A stale Etag (`PreconditionFailed`)."),
    413: ("PayloadTooLarge", "The body is over the size limit (`PayloadTooLarge`)."),
    500: ("InternalError", "Anything unexpected (`InternalError`); the body holds only a request id."),
    416: ("RangeNotSatisfiable", "A Range outside the file, or more than one (`RangeNotSatisfiable`)."),
    503: ("ServiceUnavailable", "Storage does not answer (`ServiceUnavailable`)."),
}


def error_response(status: int, description: str) -> JSON:
    headers: JSON = {"x-ms-request-id": use("headers", "RequestId")}
    if status == 401:
        headers["WWW-Authenticate"] = use("headers", "WWWAuthenticate")
    return {"description": description, "headers": headers,
            "content": {"application/json": {"schema": ref("Error")}}}


# -- the document ------------------------------------------------------------------------------------
def roles_granting(needed: Permission) -> list[str]:
    return [role.value for role, grants in GRANTS.items() if needed in grants]


def paths_of(template: str) -> list[str]:
    """The OpenAPI paths of a Functions route template: `{x?}` gives two, `{*x}` becomes `{x}`."""
    template = re.sub(r"\{\*(\w+)\}", r"{\1}", "/" + template)
    optional = re.search(r"/\{(\w+)\?\}", template)
    if optional is None:
        return [template]
    return [template[: optional.start()] + template[optional.end():],
            template[: optional.start()] + "/{" + optional.group(1) + "}" + template[optional.end():]]


def parameters_of(route: Route, path: str, op: Op) -> list[JSON]:
    found: list[JSON] = []
    for name in re.findall(r"\{(\w+)\}", path):
        schema, note = PATH.get(name, (text(), ""))
        found.append(param(name, "path", schema, note, required=True))
    for name in op.params + (("top", "BatchSize", "continuationToken") if op.paged else ()):
        if name.startswith("query:"):
            entry = QUERY[name[6:]]
            schema, note = entry[0], entry[1]
            query = entry[2] if len(entry) > 2 else name[6:]  # an entry may document a parameter of another name
            found.append(param(query, "query", schema, note, (route.name, query) in REQUIRED_QUERY))
        else:
            found.append(use("parameters", name))
    return found


def operation(route: Route, method: str, path: str, op: Op, operation_id: str) -> JSON:
    anonymous = route.permission is Permission.ANONYMOUS
    headers = {"x-ms-request-id": use("headers", "RequestId")}
    if op.paged:
        headers["x-ms-continuation"] = use("headers", "Continuation")
    for name in op.headers:
        headers[HEADERS[name]["x-header"]] = use("headers", name)
    answer = "OK."
    if op.answer.get("type") == "array":
        answer = "A bare JSON array" + (": a page; x-ms-continuation when more remain." if op.paged else ".")
    responses: JSON = {"200": {"description": answer, "headers": headers,
                               "content": {op.media: {"schema": op.answer}}}}
    with_body = op.body is not None and method in ("POST", "PUT", "PATCH", "DELETE")
    statuses = {500: ""} if anonymous else {400: "", 401: "", 403: "", 500: "", 503: ""}
    statuses |= ({413: ""} if with_body else {}) | ({411: ""} if method in ("POST", "PUT", "PATCH") else {})
    statuses |= dict(op.errors)
    for status in sorted(statuses):
        name = ERRORS[status][0]
        responses[str(status)] = ({**use("responses", name), "description": statuses[status]}
                                  if statuses[status] else use("responses", name))
    responses |= op.responses
    role = route.permission.value
    needs = " and ".join(
        f"the role {needed.value} (held by {', '.join(roles_granting(needed))})" for needed in route.needs
    )
    description = op.description + (" " if op.description else "") + (
        "No token needed (anonymous)." if anonymous else f"Needs {needs}.")
    result: JSON = {"operationId": operation_id, "summary": op.summary, "description": description,
                    "x-required-role": role, "parameters": parameters_of(route, path, op)}
    if with_body and op.body is not None:
        result["requestBody"] = {"required": op.body.required, "description": op.body.description,
                                 "content": {op.body.media: {"schema": op.body.schema}}}
    result["responses"] = responses
    result["security"] = [] if anonymous else [{"bearer": [needed.value for needed in route.needs]}]
    return result


def document() -> JSON:
    missing, stale = set(DOCUMENTED) - set(OPERATIONS), set(OPERATIONS) - set(DOCUMENTED)
    if missing or stale:
        raise SystemExit(f"openapi_operations.py OPERATIONS: document {sorted(missing)}, drop {sorted(stale)}")
    paths: dict[str, JSON] = {}
    for route in DOCUMENTED.values():
        op = OPERATIONS[route.name]
        variants = paths_of(route.template)
        for index, path in enumerate(variants):
            for method in route.methods:
                operation_id = route.name + ("_with_version" if index else "")
                operation_id += f"_{method.lower()}" if len(route.methods) > 1 else ""
                paths.setdefault(path, {})[method.lower()] = operation(route, method, path, op, operation_id)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Published pipelines on Azure Functions",
            "version": "1.0",
            "description": (
                "The wire contract of Azure ML SDK v1 published pipelines and pipeline endpoints"
                " (docs/contract.md), and the project's own routes. Generated from"
                " pipelines/api/routes.py by `python -m pipelines.api.openapi`: do not edit by hand."
                " Success is always 200; list routes answer bare JSON arrays."
            ),
        },
        "servers": [{"url": SERVER, "description": "The local host (`make run`)."}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {
                "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                "description": (
                    "An Entra ID access token: `Authorization: Bearer <token>`. `Authorization: Token <jwt>`"
                    " (what Microsoft's Java sample sends) is accepted too. Roles come from `roles` (app"
                    " roles) or `scp` (scopes); an operation's list names the role it needs."
                ),
            }},
            "schemas": schemas(),
            "parameters": PARAMETERS,
            "headers": HEADERS,
            "responses": {name: error_response(status, why) for status, (name, why) in ERRORS.items()},
        },
    }


def render() -> str:
    return json.dumps(document(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    return write_or_check(OPENAPI_PATH, render(), "python -m pipelines.api.openapi", argv)


if __name__ == "__main__":
    raise SystemExit(main())
