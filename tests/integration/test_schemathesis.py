"""openapi.json agrees with the server: Schemathesis runs every operation of the document against the
app on the local host (127.0.0.1, a real socket, Azurite), with all its checks.

Each operation is one test (all of them named `test_every_operation_answers_as_documented`). Schemathesis
sends schema-valid requests (which must not be answered 400) and schema-violating ones (which must
be refused), from the document's examples, its boundaries (the coverage phase) and random data
(fuzzing), and checks every answer: no 5xx, a documented status code, the documented content type,
headers and body schema, 405 with an `Allow` header for an undocumented method. Requests carry a
token of every role, as a real caller's do; path parameters are drawn, so most name nothing and
are answered 404, which every such operation documents.

The document is loaded when the module is collected (`schemathesis.openapi.from_path`, one test per
operation); the host is a fixture of this module, its URL given to each call. (Schemathesis's
`from_fixture` loader, which would run every operation inside one test, does not work with pytest
9.2: it writes a node id attribute pytest no longer has.)

The run is seeded, so a failure is the same on every machine. Its length is bounded by
PIPELINES_SCHEMATHESIS_EXAMPLES, the examples per operation of the fuzzing phase: small by default
(`make test`); `make reliability` runs the long form with a larger number. A failure prints the
request to reproduce it (`curl ...`).
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import negative_data_rejection

from pipelines.api import openapi
from pipelines.api.automation_contract import EventTriggerRequest, RecurrenceRequest, ScheduleRequest
from pipelines.devhost import azurite as azurite_mod
from pipelines.runs.body_keys import near_miss
from pipelines.runs.request import SUBMIT_KEYS
from pipelines.settings import reset_settings
from pipelines.store.account import reset_account
from tests.conftest import unique_prefix

# Every operation's test has the same node id here (Schemathesis 4.32 leaves the operation out of
# it), and pytest-xdist, which tells tests apart by node id, runs one of them and passes: under
# xdist this file would check nothing. `make test` runs it in a pass of its own, in one process.
if os.environ.get("PYTEST_XDIST_WORKER"):
    pytest.fail("run tests/integration/test_schemathesis.py without pytest-xdist (-p no:xdist): "
                "under it, one operation alone would be checked", pytrace=False)
from tests.service import token

# Read when the module is collected: the fixtures of tests/conftest.py clear PIPELINES_* for each test.
EXAMPLES = int(os.environ.get("PIPELINES_SCHEMATHESIS_EXAMPLES", "4"))
SEED = int(os.environ.get("PIPELINES_SCHEMATHESIS_SEED", "20261127"))

# Operations whose body fits its schema and is still refused, rightly, with a 400: what it names must
# exist (the snapshots of a definition, a datastore's container, a dataset's datastores and files),
# or agree with something a schema cannot see (the definition's hashes and graph, a datastore's Name
# and its path), or be an OData filter or order the service knows. For these alone a 400 for
# schema-valid data is no failure; every other check holds.
STATEFUL_400 = (
    "upload_snapshot",  # the path is the sha256 of the body, which is a zip
    "publish_pipeline",  # the definition's snapshots are uploaded first; its hashes and graph agree
    "create_datastore", "register_datastore",  # the container exists, or CreateIfNotExists
    "register_dataset",  # the paths name registered datastores and existing files
    "history_query_runs", "history_query_experiments", "history_get_children",  # OData filter and order
    "history_list_experiments",  # its $filter
    "submit_endpoint_with_version",  # the version in the path and ?pipelineVersion=, when both are given, agree
    "put_compute_target", "delete_compute_target",  # `app`, a valid name, is the app itself: never written
)
POSITIVE_STATUSES = ["2xx", "3xx", "400", "401", "403", "404", "409", "429", "5xx"]
# Schemathesis's list, and 413: a body over the size limit is refused before it is read.
NEGATIVE_STATUSES = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429", "5xx"]

CONFIG = SchemathesisConfig.from_dict({
    "seed": SEED,
    "generation": {
        "mode": "all",  # positive and negative data
        "max-examples": EXAMPLES,
        "deterministic": True,
        "database": "none",  # no example database: the same cases on every run and machine
        # Unknown query parameters and headers are ignored, as Azure ML ignored them (and the host
        # passes them on): sending some is no schema violation the service should refuse.
        "allow-extra-parameters": False,
    },
    "phases": {
        "examples": {"enabled": True},
        "coverage": {
            "enabled": True,
            # The methods an Azure Functions HTTP trigger can be bound to (azure.functions.HttpMethod,
            # HEAD aside): TRACE and QUERY never reach a function, in Azure or here.
            "unexpected-methods": ["GET", "PUT", "POST", "DELETE", "OPTIONS", "PATCH"],
        },
        "fuzzing": {"enabled": True},
        "stateful": {"enabled": False},  # the pytest integration runs operations one by one
    },
    "checks": {"enabled": True, "negative_data_rejection": {"expected-statuses": NEGATIVE_STATUSES}},
    "operations": [{
        "include-operation-id": list(STATEFUL_400),
        "checks": {"positive_data_acceptance": {"expected-statuses": POSITIVE_STATUSES}},
    }],
})
schema = schemathesis.openapi.from_path(openapi.OPENAPI_PATH, config=CONFIG)


def aliases(model: Any) -> tuple[str, ...]:
    return tuple(field.alias or name for name, field in model.model_fields.items())


# A snapshot is a zip's bytes: sent as they are generated, as any other binary body.
schemathesis.serializer.alias("application/zip", "application/octet-stream")

# Continuation tokens are opaque: a caller sends back only one the service issued (any other is a
# 400, tests/integration/test_malformed_input.py). A generated one would be such a forgery, so
# requests carry none; a token of the wrong type stays, and must be refused.
TOKENS = ("continuationToken", "$continuationToken")


# A body's unknown keys are ignored, but a near miss of a known key (`pipeline_version` for
# `PipelineVersion`) is a 400 naming the key it meant, by design (tests/unit/test_request_keys.py):
# no schema can say which names are near. Schemathesis draws property names from the app's own
# source, so it sends such keys; a real caller's extra keys are not misspellings of the ones it
# means, and requests carry none.
KNOWN_KEYS: dict[str, tuple[str, ...]] = {
    **{name: SUBMIT_KEYS for name in ("submit_pipeline", "submit_endpoint", "submit_endpoint_with_version",
                                      "submit_endpoint_by_name")},
    "put_trigger": aliases(EventTriggerRequest),
    "put_schedule": aliases(ScheduleRequest),
}
NESTED_KEYS = {"Request": SUBMIT_KEYS, "Recurrence": aliases(RecurrenceRequest)}


def realistic(case: Any) -> None:
    """The request as a real caller sends it: no forged continuation token, no misspelt key."""
    for name in TOKENS:
        if isinstance(case.query, dict) and isinstance(case.query.get(name), str):
            del case.query[name]
    if isinstance(case.body, dict) and isinstance(case.body.get("continuationToken"), str):
        del case.body["continuationToken"]
    known = KNOWN_KEYS.get(case.operation.definition.raw.get("operationId", ""))
    if known is not None and isinstance(case.body, dict):
        case.body = without_near_misses(case.body, known, nested=True)


def without_near_misses(body: dict[str, Any], known: tuple[str, ...], *, nested: bool) -> dict[str, Any]:
    kept = {key: value for key, value in body.items() if not isinstance(key, str) or near_miss(key, known) is None}
    for key, value in kept.items():
        inner = NESTED_KEYS.get(key) if nested and key in known else None
        if inner is not None and isinstance(value, dict):
            kept[key] = without_near_misses(value, inner, nested=False)
    return kept


@pytest.fixture(autouse=True)
def _no_ambient_storage() -> None:
    """tests/conftest.py's fixture of this name clears the storage settings before each test; here
    one host serves every operation, and its settings stay (`served` clears them itself, once)."""


@pytest.fixture(scope="module")
def served(azurite: azurite_mod.Azurite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app on the local host, with storage of this module's own: its base URL."""
    from tests.hosting import running_host  # imported here: it needs uvicorn

    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith(("AzureWebJobsStorage", "PIPELINES_")):
                patch.delenv(name, raising=False)
        prefix = unique_prefix()
        patch.setenv("AzureWebJobsStorage", azurite.connection_string)
        patch.setenv("PIPELINES_NAME_PREFIX", prefix)
        patch.setenv("PIPELINES_STEPS_QUEUE", f"{prefix}-steps")
        patch.setenv("PIPELINES_WORK_DIR", str(Path(tmp_path_factory.mktemp("work"))))
        reset_settings()
        reset_account()
        try:
            with running_host(dev_issuer=True) as host:
                yield host.base_url
        finally:
            reset_settings()
            reset_account()


@pytest.fixture(scope="module")
def loopback_only() -> Iterator[None]:
    """Nothing the run makes the app do leaves this machine: a datastore registered with another
    storage account (a valid AccountUrl is schema-valid) is never reached, and neither is any other
    address; such an attempt fails as storage being away would."""
    connect, resolve = socket.socket.connect, socket.getaddrinfo

    def local(host: Any) -> bool:
        try:
            return host in ("localhost", None) or ipaddress.ip_address(str(host).split("%")[0]).is_loopback
        except ValueError:
            return False

    def guarded_connect(self: socket.socket, address: Any) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6) and not local(address[0]):
            raise ConnectionRefusedError(f"the Schemathesis run reaches no address but loopback: {address[0]}")
        connect(self, address)

    def guarded_resolve(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not local(host):
            raise socket.gaierror(socket.EAI_NONAME, f"the Schemathesis run resolves no name but localhost: {host}")
        return resolve(host, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", guarded_connect)
        patch.setattr(socket, "getaddrinfo", guarded_resolve)
        yield


def unseen_by_the_service(case: Any) -> bool:
    """A schema-violating case whose every violation the service cannot see: a missing or wrong
    Authorization header (every request here carries a valid token), or a query value that is sent
    as nothing (`?top=`, which the Functions host leaves out: a parameter not sent)."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_negative:
        return False
    mutations = getattr(meta.phase.data, "mutations", ()) or ()

    def unseen(mutation: Any) -> bool:
        name = str(mutation.parameter or "")
        if mutation.parameter_location == ParameterLocation.HEADER:
            return name.lower() == "authorization"
        if mutation.parameter_location == ParameterLocation.QUERY and isinstance(case.query, dict):
            return case.query.get(name, "") in ("", None, {}, [])
        return False

    return bool(mutations) and all(unseen(m) for m in mutations)


@schema.parametrize()
def test_every_operation_answers_as_documented(case: Any, served: str, loopback_only: None) -> None:
    realistic(case)
    # Such a case reaches the service as a valid request: every other check holds for it.
    excluded = [negative_data_rejection] if unseen_by_the_service(case) else None
    case.call_and_validate(base_url=served, headers={"Authorization": f"Bearer {token()}"}, timeout=60,
                           excluded_checks=excluded)
