"""No request, however malformed, makes the service answer 500 (docs/contract.md §4: a 500 is a bug).

Bodies, route values, headers and query strings that clients should never
send, each answered with a 4xx and the contract's error JSON.
"""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

from pipelines.authoring import PipelineParameter
from pipelines.client import Workspace, publish
from tests import pipelines_for_tests as make
from tests.service import Service, assert_error, token


def test_no_malformed_request_gets_a_500(host, tmp_path):
    """Odd bodies, route values, headers and query strings: each a 4xx with the error JSON, never a 5xx."""
    svc = Service(host.base_url)
    ws = Workspace(base_url=host.base_url, resource_group="rg", name="ws1", token_provider=lambda: token())
    parameters = [PipelineParameter("n", 1), PipelineParameter("s", "x"), PipelineParameter("f", 1.5),
                  PipelineParameter("b", True)]
    arguments = ["--n", PipelineParameter("n", 1)]
    p = publish(ws, make.single(tmp_path / "c", "print('hi')\n", parameters=parameters, arguments=arguments), "p1")
    out: list[tuple[str, int, str]] = []
    def chk(label, r):
        out.append((label, r.status_code, r.text[:200]))
    pid = p.id
    S = f"/PipelineRuns/PipelineSubmit/{pid}"
    bodies = {
        "huge int": b'{"ParameterAssignments":{"n":' + b"9"*5000 + b'}}',
        "big int": b'{"ParameterAssignments":{"n":99999999999999999999999}}',
        "inf float": b'{"ParameterAssignments":{"f":1e999}}',
        "nan": b'{"ParameterAssignments":{"f":NaN}}',
        "nan str": b'{"ParameterAssignments":{"f":"nan"}}',
        "inf str": b'{"ParameterAssignments":{"f":"inf"}}',
        "null param": b'{"ParameterAssignments":{"n":null}}',
        "list param": b'{"ParameterAssignments":{"s":[1]}}',
        "obj param": b'{"ParameterAssignments":{"s":{"a":1}}}',
        "str nul": b'{"ParameterAssignments":{"s":"a\\u0000b"}}',
        "lone surrogate": b'{"ParameterAssignments":{"s":"\\ud800"}}',
        "lone surrogate tag": b'{"Tags":{"k":"\\ud800"}}',
        "surrogate key": b'{"Tags":{"\\ud800":"v"}}',
        "big tag": json.dumps({"Tags": {f"k{i}": "v"*1000 for i in range(100)}}).encode(),
        "big param": json.dumps({"ParameterAssignments": {"s": "x"*70000}}).encode(),
        "big param 40k": json.dumps({"ParameterAssignments": {"s": "x"*40000}}).encode(),
        "empty key tag": b'{"Tags":{"":"v"}}',
        "odata key tag": b'{"Tags":{"a.b":"v", "$x":"y"}}',
        "deep": b'[' * 100000 + b']' * 100000,
        "dup keys": b'{"Tags":{"a":"1"},"tags":{"b":"2"}}',
        "runtype obj": b'{"RunType":{"a":1}}',
        "bool str": b'{"ParameterAssignments":{"b":"yes"}}',
        "datapath bad": b'{"DataPathAssignments":{"x":{"DataStoreName":null}}}',
        "dataset weird": b'{"DataSetDefinitionValueAssignments":{"x":5}}',
        "desc float": b'{"Description":1e400}',
        "bom": b'\xef\xbb\xbf{}',
        "utf16": '{}'.encode('utf-16'),
        "flag int": b'{"ContinueRunOnStepFailure":1}',
        "properties nested null": b'{"Properties":{"a":null}}',
    }
    for k, b in bodies.items():
        chk(k, svc.post(S, content=b, headers={"Content-Type": "text/plain"}))
    # route params
    for rid in ["x'y", "a"*1100, "%E2%82%AC", "..", "a%7Cb", "a%23b", "%00", " ", "\u00e9"]:
        chk("get_run "+rid[:20], svc.get(f"/PipelineRuns/{rid}"))
        chk("steps "+rid[:20], svc.post(f"/PipelineRuns/{rid}/Graph/AllNodes/Status"))
        chk("pipe "+rid[:20], svc.get(f"/Pipelines/{rid}"))
        chk("submit "+rid[:20], svc.post(f"/PipelineRuns/PipelineSubmit/{rid}", json={}))
        chk("ep "+rid[:20], svc.get(f"/PipelineEndpoints/Id/{rid}"))
        chk("epn "+rid[:20], svc.get("/PipelineEndpoints/Name", params={"name": rid}))
        chk("runs "+rid[:20], svc.get(f"/PipelineRuns/Pipeline/{rid}"))
        chk("ds "+rid[:20], svc.get(f"/Datasets/{rid}"))
        chk("dsn "+rid[:20], svc.get("/Datasets/Name", params={"name": rid}))
        chk("dstore "+rid[:20], svc.get(f"/Datastores/{rid}"))
    chk("top huge", svc.get("/Pipelines", params={"top": "9"*5000}))
    chk("top unicode digit", svc.get("/Pipelines", params={"top": "\u0663"}))
    chk("batchsize unicode", svc.get("/Pipelines", headers={"BatchSize": "\u00b2".encode("latin-1")}))
    chk("cont bad", svc.get("/Pipelines", params={"continuationToken": "eyJhIjoxfQ"}))
    chk("cont bad2", svc.get("/Pipelines", params={"continuationToken": "e30"}))
    chk("cont list", svc.get("/Pipelines", params={"continuationToken": "W10"}))
    chk("status null", svc.put(f"/Pipelines/{pid}/status", content=b'null'))
    chk("status list", svc.put(f"/Pipelines/{pid}/status", content=b'[1]'))
    chk("status 99", svc.put(f"/Pipelines/{pid}/status", content=b'99'))
    chk("status float", svc.put(f"/Pipelines/{pid}/status", content=b'1.5'))
    chk("status huge", svc.put(f"/Pipelines/{pid}/status", content=b'1e999'))
    chk("status bool", svc.put(f"/Pipelines/{pid}/status", content=b'true'))
    chk("ep create bad", svc.post("/PipelineEndpoints/Create", json={"Name": ["x"], "PipelineId": pid}))
    chk("ep create nameobj", svc.post("/PipelineEndpoints/Create", json={"Name": "e1", "PipelineId": 5}))
    chk("ep create props",
        svc.post("/PipelineEndpoints/Create", json={"Name": "e2", "PipelineId": pid, "Properties": [1]}))
    chk("ep create tags",
        svc.post("/PipelineEndpoints/Create", json={"Name": "e3", "PipelineId": pid, "tags": {"a": {"b": 1}}}))
    chk("ep create long", svc.post("/PipelineEndpoints/Create", json={"Name": "e"*2000, "PipelineId": pid}))
    chk("ep create slash", svc.post("/PipelineEndpoints/Create", json={"Name": "a/b", "PipelineId": pid}))
    r = svc.post("/PipelineEndpoints/Create", json={"Name": "ok", "PipelineId": pid})
    chk("ep ok", r)
    eid = r.json().get("Id")
    for b in [{"PipelineVersionList": None}, {"PipelineVersionList": [None]},
              {"PipelineVersionList": [{"PipelineId": None}]},
              {"PipelineVersionList": [{"Version": 5, "PipelineId": pid}]},
              {"DefaultVersion": 0}, {"DefaultVersion": None},
              {"EntityStatus": "x"}, {"Name": None}, {"Etag": 5}, {"Properties": "x"},
              {"PipelineVersionList": [{"Version": "99999999999999999999999999", "PipelineId": pid}]},
              {"PipelineVersionList": [{"Version": "-1", "PipelineId": pid}, {"PipelineId": pid}]},
              {"PipelineVersionList": [{"Version": "0", "PipelineId": pid}, {"Version": "00", "PipelineId": pid}]},
              "str", [1]]:
        chk("ep put " + json.dumps(b)[:60], svc.put(f"/PipelineEndpoints/{eid}", content=json.dumps(b).encode()))
    chk("ep put es inf", svc.put(f"/PipelineEndpoints/{eid}", content=b'{"EntityStatus": 1e999}'))
    chk("log bad body", svc.post("/PipelineRuns/x/Graph/Shareable/STDOUT", content=b'[1]'))
    r = svc.post(S, json={})
    rid = r.json()["Id"]
    chk("log null", svc.post(f"/PipelineRuns/{rid}/Graph/Shareable/STDOUT", content=b'null'))
    chk("log obj", svc.post(f"/PipelineRuns/{rid}/Graph/Shareable/STDOUT", content=b'{"a":1}'))
    chk("log unknown node", svc.post(f"/PipelineRuns/{rid}/Graph/Shareable/STDOUT", json=["a|b"]))
    chk("idem long", svc.post(S, json={}, headers={"Idempotency-Key": ("\u00e9"*300).encode("latin-1")}))
    chk("idem nonascii", svc.post(S, json={}, headers={"x-ms-client-request-id": "k1"}))
    chk("idem nonascii again", svc.post(S, json={"Tags": {"a": "b"}}, headers={"x-ms-client-request-id": "k1"}))
    chk("ws long", svc.get(Service(host.base_url, workspace="a"*64).ws.replace(host.base_url, "") + "/Pipelines"))
    chk("parentRunId weird", svc.post(S + "?parentRunId=" + "x"*30000, json={}))
    failures = [(label, status, text) for label, status, text in out if status >= 500]
    assert failures == [], "\n".join(f"{s} {label}" for label, s, _ in failures)
    for label, status, text in out:
        if status == 404 and not text:
            continue  # no route matched (a path the client normalised away): the host's empty 404
        if status >= 400:
            assert text.startswith('{"Error":'), (label, text)


def test_an_unpaired_surrogate_anywhere_in_a_body_is_a_400_naming_where(host, tmp_path):
    # GIVEN a published pipeline, and bodies with "\ud800" escapes (JSON allows them; they are not text)
    svc = Service(host.base_url)
    ws = Workspace(base_url=host.base_url, resource_group="rg", name="ws1", token_provider=lambda: token())
    pipeline = publish(ws, make.single(tmp_path / "c", "print('hi')\n"), "p1")
    submit = f"/PipelineRuns/PipelineSubmit/{pipeline.id}"
    cases = {
        b'{"ExperimentName":"\\ud800"}': "ExperimentName",
        b'{"Description":"ok \\udfff"}': "Description",
        b'{"Tags":{"k":["x","\\ud800"]}}': "Tags.k[1]",
        b'{"Tags":{"\\ud800":"v"}}': "Tags (a key)",
    }
    for body, where in cases.items():
        # WHEN it is submitted
        answer = svc.post(submit, content=body, headers={"Content-Type": "application/json"})
        # THEN it is refused before anything is stored, naming the place
        assert answer.status_code == 400, (body, answer.text)
        error = answer.json()["Error"]
        assert error["Target"] == where and "unpaired surrogate" in error["Message"], (body, error)
    # AND a real pair (an emoji escaped as two surrogates) is text, kept and answered back as it was
    pair = b'{"Description":"\\ud83d\\ude00 ok"}'
    kept = svc.post(submit, content=pair, headers={"Content-Type": "application/json"})
    assert kept.status_code == 200 and kept.json()["Description"] == "\U0001f600 ok"
    assert svc.get(f"/PipelineRuns/{kept.json()['Id']}").json()["Description"] == "\U0001f600 ok"


# -- what a run records: Azure ML's rules for an experiment name, a description and tags ------------------
BAD_EXPERIMENT_NAMES = {
    "NUL": b'"a\\u0000b"',
    "lone surrogate": b'"\\ud800"',
    "path": b'"../../x"',
    "too long": b'"' + b"e" * 256 + b'"',
}


def test_bad_experiment_names_descriptions_and_tags_are_400s_naming_the_rule_and_nothing_is_stored(host, tmp_path):
    # GIVEN a published pipeline
    svc = Service(host.base_url)
    ws = Workspace(base_url=host.base_url, resource_group="rg", name="ws1", token_provider=lambda: token())
    pipeline = publish(ws, make.single(tmp_path / "c", "print('hi')\n"), "p1")
    submit = f"/PipelineRuns/PipelineSubmit/{pipeline.id}"
    schedule = {"PipelineId": pipeline.id, "Recurrence": {"Frequency": "Day", "Interval": 1}}
    trigger = {"PipelineId": pipeline.id}
    cases: list[tuple[str, bytes, str, str]] = [
        (label, b'{"ExperimentName":' + raw + b"}", "ExperimentName",
         "unpaired surrogate" if label == "lone surrogate" else "an experiment name is 1 to 255 characters")
        for label, raw in BAD_EXPERIMENT_NAMES.items()
    ] + [
        ("description NUL", b'{"Description":"a\\u0000b"}', "Description", "a description is at most 5,000"),
        ("description too long", b'{"Description":"' + b"d" * 5001 + b'"}', "Description", "5,000 characters"),
        ("tag key NUL", b'{"Tags":{"a\\u0000":"v"}}', "Tags.a\x00", "a tag key is 1 to 100 characters"),
        ("tag key empty", b'{"Tags":{"":"v"}}', "Tags", "a tag key is 1 to 100 characters"),
        ("tag key too long", b'{"Tags":{"' + b"k" * 101 + b'":"v"}}', "Tags." + "k" * 100 + "...", "1 to 100"),
        ("tag value too long", b'{"Tags":{"k":"' + b"v" * 1001 + b'"}}', "Tags.k", "a tag value is at most 1,000"),
        ("tag value NUL", b'{"Tags":{"k":"a\\u0000"}}', "Tags.k", "a tag value is at most 1,000"),
        ("51 tags", json.dumps({"Tags": {f"k{i}": "v" for i in range(51)}}).encode(), "Tags", "at most 50 tags"),
        ("tags over a property", json.dumps({"Tags": {f"k{i}": "v" * 1000 for i in range(40)}}).encode(), "Tags",
         "one Table storage property"),
    ]
    for label, body, target, rule in cases:
        # WHEN it is submitted, or kept in a schedule's or a trigger's request
        answers = [
            ("submit", svc.post(submit, content=body, headers={"Content-Type": "application/json"}), target),
            ("schedule", svc.put("/Schedules/s1", content=_with_request(schedule, body)), f"Request.{target}"),
            ("trigger", svc.put("/EventTriggers/t1", content=_with_request(trigger, body)), f"Request.{target}"),
        ]
        # THEN each is a 400 with the error JSON naming the key and the rule
        for where, answer, expected_target in answers:
            error = assert_error(answer, 400)["Error"]
            found = [error, *error["Details"]]
            assert any(d["Target"] == expected_target and rule in d["Message"] for d in found), (label, where, error)
    # AND nothing was stored: no run, no experiment, no schedule, no trigger
    assert svc.get(f"/PipelineRuns/Pipeline/{pipeline.id}").json() == []
    assert svc.get(svc.hs + "/experiments").json()["value"] == []
    assert svc.get("/Schedules").json() == [] and svc.get("/EventTriggers").json() == []


def _with_request(resource: dict, submit_body: bytes) -> bytes:
    """`resource` with `submit_body` as its Request, the bytes kept as they are (escapes included)."""
    return json.dumps(resource)[:-1].encode() + b', "Request": ' + submit_body + b"}"


def test_an_experiment_name_in_a_history_path_follows_the_rule_too(host, tmp_path):
    # GIVEN a run under a valid experiment name
    svc = Service(host.base_url)
    ws = Workspace(base_url=host.base_url, resource_group="rg", name="ws1", token_provider=lambda: token())
    pipeline = publish(ws, make.single(tmp_path / "c", "print('hi')\n"), "p1")
    run = svc.post(f"/PipelineRuns/PipelineSubmit/{pipeline.id}", json={"ExperimentName": "good"}).json()
    # WHEN a history route names an experiment no run can have (NUL, a lone surrogate, a path, too long)
    for name in ["a%00b", "%ED%A0%80", "..%2F..%2Fx", "e" * 256, "a.b"]:
        for path in (f"/experiments/{name}", f"/experiments/{name}/runs/{run['Id']}",
                     f"/experiments/{name}/runs/{run['Id']}/details", f"/experiments/{name}/runs/{run['Id']}/children"):
            answer = svc.get(svc.hs + path)
            # THEN it is a 400 naming the rule and the path parameter
            error = assert_error(answer, 400)["Error"]
            assert error["Target"] == "experimentName", (name, path, error)
            assert "an experiment name is 1 to 255 characters" in error["Message"], (name, path, error)
        created = svc.post(svc.hs + f"/experiments/{name}")
        assert assert_error(created, 400)["Error"]["Target"] == "experimentName"
        query = svc.post(svc.hs + f"/experiments/{name}/runs:query", json={})
        assert assert_error(query, 400)["Error"]["Target"] == "experimentName"
    # AND a valid name that names nothing is still a 404, and the real one answers
    assert_error(svc.get(svc.hs + "/experiments/unknown"), 404)
    assert svc.get(svc.hs + f"/experiments/good/runs/{run['Id']}").status_code == 200
    assert [e["name"] for e in svc.get(svc.hs + "/experiments").json()["value"]] == ["good"]


def test_a_body_sent_chunked_is_refused_with_a_411_and_nothing_runs(host, tmp_path):
    """A body sent with `Transfer-Encoding: chunked` and no Content-Length reaches the app empty,
    as under the Functions host: taken for `{}`, a submit would run with the defaults."""
    svc = Service(host.base_url)
    ws = Workspace(base_url=host.base_url, resource_group="rg", name="ws1", token_provider=lambda: token())
    p = publish(ws, make.single(tmp_path / "c", "print('hi')\n", parameters=[PipelineParameter("n", 1)],
                                arguments=["--n", PipelineParameter("n", 1)]), "chunked")
    path = urlsplit(svc.ws).path + f"/PipelineRuns/PipelineSubmit/{p.id}"
    connection = http.client.HTTPConnection(urlsplit(host.base_url).netloc, timeout=30)
    try:
        connection.request("POST", path, body=iter([b'{"ParameterAssignments":', b'{"n": 42}}']),
                           headers={"Authorization": f"Bearer {token()}", "Content-Type": "application/json"},
                           encode_chunked=True)
        answer = connection.getresponse()
        status, body = answer.status, json.loads(answer.read())
    finally:
        connection.close()
    assert status == 411, body
    assert body["Error"]["Code"] == "LengthRequired" and "Content-Length" in body["Error"]["Message"]
    assert body["Correlation"]["RequestId"]
    # nothing was submitted
    assert svc.get(f"/PipelineRuns/Pipeline/{p.id}").json() == []
    # the same body with its length runs
    sent = svc.post(f"/PipelineRuns/PipelineSubmit/{p.id}", json={"ParameterAssignments": {"n": 42}})
    assert sent.status_code == 200 and sent.json()["ParameterAssignments"]["n"] == "42", sent.text


def test_a_400_names_every_bad_key_at_once_the_parameters_with_the_other_keys(host, tmp_path):
    # GIVEN a published pipeline with an int parameter
    svc = Service(host.base_url)
    ws = Workspace(base_url=host.base_url, resource_group="rg", name="ws1", token_provider=lambda: token())
    parameters = [PipelineParameter("n", 1)]
    pipeline = publish(ws, make.single(tmp_path / "c", "print('hi')\n", parameters=parameters,
                                       arguments=["--n", parameters[0]]), "p1")
    # WHEN a submit has a bad experiment name, a bad description, an uncoercible parameter, an
    # unknown one, and a `?parentRunId=` longer than a body's may be
    body = {"ExperimentName": "bad name!", "Description": "a\u0000b", "RunSource": ["x"],
            "ParameterAssignments": {"n": "seven", "nope": 1}}
    answer = svc.post(f"/PipelineRuns/PipelineSubmit/{pipeline.id}?parentRunId={'p' * 4097}", json=body)
    # THEN one 400 names each of them
    error = assert_error(answer, 400)["Error"]
    targets = {d["Target"] for d in error["Details"]}
    assert targets == {"ExperimentName", "Description", "RunSource", "ParentRunId", "ParameterAssignments.n",
                       "ParameterAssignments.nope"}, error
    # AND an unknown pipeline still answers the body's own 400, with what the body alone tells
    unknown = assert_error(svc.post("/PipelineRuns/PipelineSubmit/no-such-pipeline", json=body), 400)["Error"]
    assert {d["Target"] for d in unknown["Details"]} == {"ExperimentName", "Description", "RunSource"}
    # AND nothing was stored
    assert svc.get(f"/PipelineRuns/Pipeline/{pipeline.id}").json() == []


def test_an_id_too_long_to_be_a_storage_key_is_a_400_on_every_route_that_takes_one(host):
    # GIVEN ids longer than a Table storage key holds (1 KiB), one of them past what a URL to
    # storage may carry (Azurite then refuses the call itself)
    svc = Service(host.base_url)
    for long in ("a" * 600, "b" * 20_000):
        routes = [
            ("GET", f"/Pipelines/{long}", None), ("PUT", f"/Pipelines/{long}/status", "Active"),
            ("GET", f"/PipelineEndpoints/Id/{long}", None), ("GET", f"/PipelineEndpoints/Name?Name={long}", None),
            ("PUT", f"/PipelineEndpoints/{long}", {}), ("GET", f"/PipelineEndpoints/{long}/pipelines", None),
            ("POST", f"/PipelineRuns/PipelineSubmit/{long}", {}),
            ("POST", f"/PipelineRuns/PipelineEndpointSubmit/Id/{long}", {}),
            ("POST", f"/PipelineRuns/PipelineEndpointSubmit/Name?name={long}", {}),
            ("GET", f"/PipelineRuns/Pipeline/{long}", None), ("GET", f"/PipelineRuns/{long}", None),
            ("POST", f"/PipelineRuns/{long}/Cancel", None), ("POST", f"/PipelineRuns/{long}/Graph/AllNodes/Status", []),
            ("GET", f"{svc.hs}/runs/{long}", None), ("GET", f"{svc.hs}/runs/{long}/details", None),
            ("GET", f"{svc.hs}/experiments/e/runs/{long}", None),
            ("GET", f"{svc.hs}/experiments/e/runs/{long}/children", None),
        ]
        for method, path, body in routes:
            # WHEN a route is called with one
            answer = svc.call(method, path, json=body) if body is not None else svc.call(method, path)
            # THEN it is a 400 with the error JSON, never a 500, and the id is not echoed whole
            error = assert_error(answer, 400)["Error"]
            assert "too long" in error["Message"] and len(answer.text) < 2000, (method, path[:80], error)
