"""The studio in a real headless Chromium (Debian's `chromium`, driven by Playwright; no
browser is downloaded) against the local host on Azurite: what a person does with it.

Every view is photographed at 1440 and 375 px into docs/screenshots/ (docs/studio.md
names them) and checked with axe-core (the pinned npm package): no serious or critical
finding. Without Chromium these tests skip, saying what to install; in CI (`CI` set)
they fail instead.
"""

from __future__ import annotations

import os
import re
import textwrap
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from pipelines.auth import devissuer
from pipelines.authoring import Pipeline, PipelineData, PipelineParameter, PythonScriptStep
from pipelines.client import Workspace, load_pipeline, publish, publish_folder
from tests import pipelines_for_tests as make
from tests.service import ALL_ROLES, ROOT, Service

CHROMIUM = Path(os.environ.get("PIPELINES_TEST_CHROMIUM", "/usr/bin/chromium"))
# The flags the issue names: headless, no sandbox (root in CI), and nothing that calls home.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "docs" / "screenshots"
DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 375, "height": 812}
WORKSPACE = "default"  # the studio's default workspace (PIPELINES_STUDIO_WORKSPACE)
expect: Any = None  # playwright's expect, imported with the browser (the package may be missing)


def _unavailable(message: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{message} (CI must run the browser tests: scripts/system-packages.sh installs it)")
    pytest.skip(message)


@pytest.fixture
def host_env() -> dict[str, str]:
    """A short step lease: tests here wait for a lost worker's lease to expire."""
    return {"PIPELINES_STEP_LEASE_SECONDS": "6"}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        _unavailable(
            f"Chromium is not installed at {CHROMIUM}: `sudo apt-get install chromium` (or `make system-packages`)"
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the Python package playwright is missing: `make setup` (pip install -r requirements-dev.txt)")
    if not AXE.exists():
        pytest.fail("axe-core is missing from node_modules: run `make setup` (npm ci)")
    global expect
    from playwright.sync_api import expect as playwright_expect

    expect = playwright_expect
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def workspace(host) -> Workspace:
    return Workspace(base_url=host.base_url, resource_group="local", name=WORKSPACE,
                     token_provider=lambda: devissuer.mint())


@pytest.fixture
def example(workspace: Workspace):
    """examples/compare behind compare-endpoint, as `make run` publishes it."""
    published, endpoint = publish_folder(workspace, ROOT / "examples" / "compare", name="My_Published_Pipeline",
                                         version="1.0", description="The compare example", endpoint="compare-endpoint")
    return published, endpoint


class Studio:
    """One browser tab on the studio, with what a test needs around it."""

    def __init__(self, browser: Any, base_url: str, viewport: dict[str, int]) -> None:
        self.base_url = base_url
        self.viewport = viewport
        self.context = browser.new_context(viewport=viewport, accept_downloads=True)
        self.context.add_init_script(path=str(AXE))  # injected by the browser itself: the page's CSP stays on
        self.page = self.context.new_page()
        self.page.set_default_timeout(30_000)
        self.errors: list[str] = []
        self.requests: list[tuple[float, str, str]] = []
        self.page.on("pageerror", lambda error: self.errors.append(f"script error: {error}"))
        self.page.on("console", self._console)
        self.page.on("request", lambda r: self.requests.append((time.monotonic(), r.method, r.url)))

    def _console(self, message: Any) -> None:
        if message.type == "error" and "Failed to load resource" not in message.text:
            self.errors.append(f"console: {message.text}")

    @property
    def size(self) -> str:
        return "phone" if self.viewport["width"] < 800 else "desktop"

    def open(self, path: str = "/studio/") -> None:
        self.page.goto(self.base_url + path)

    def sign_in(self, roles: tuple[str, ...] = ("Pipelines.Admin",)) -> None:
        self.open("/studio/")
        for role in devissuer.DEFAULT_ROLES:
            box = self.page.locator(f"input[id='role-{role}']")
            box.set_checked(role in roles)
        self.page.get_by_role("button", name="Sign in as the local developer").click()
        self.page.get_by_role("heading", name="Endpoints and pipelines").wait_for()

    def check_view(self, name: str) -> None:
        """Photograph the view and check it with axe-core: no serious or critical finding."""
        self.page.wait_for_load_state("networkidle")
        self.page.wait_for_timeout(150)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}-{self.size}.png"), full_page=True)
        found = self.page.evaluate(
            """async () => {
                const result = await axe.run(document, {resultTypes: ["violations"]});
                return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                    nodes: v.nodes.slice(0, 5).map(n => n.target.join(" "))}));
            }"""
        )
        serious = [v for v in found if v["impact"] in ("serious", "critical")]
        assert not serious, f"{name} ({self.size}): {serious}"
        if self.size == "phone":
            overflow = self.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{name}: the page is {overflow}px wider than a 375 px screen"
        assert not self.errors, self.errors

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def desktop(browser, host) -> Iterator[Studio]:
    tab = Studio(browser, host.base_url, DESKTOP)
    yield tab
    tab.close()


@pytest.fixture
def phone(browser, host) -> Iterator[Studio]:
    tab = Studio(browser, host.base_url, PHONE)
    yield tab
    tab.close()


def is_poll(method: str, url: str) -> bool:
    return bool(re.search(r"/PipelineRuns/[^/]+(/Graph/AllNodes/Status|/Graph/Shareable/\w+)?(\?.*)?$", url))


# -- the example, end to end --------------------------------------------------------------------------------
def test_open_run_watch_read_a_log_and_download_an_output(desktop: Studio, example) -> None:
    page = desktop.page
    desktop.sign_in()
    page.get_by_role("link", name="compare-endpoint").wait_for()
    desktop.check_view("endpoints")

    # The endpoint: status, versions with the default, the submit URL, calls to copy.
    page.get_by_role("link", name="compare-endpoint").click()
    page.get_by_role("heading", name=re.compile("compare-endpoint")).wait_for()
    assert f"/PipelineEndpointSubmit/Id/{example[1].id}" in page.locator("#submit-url").inner_text()
    assert page.get_by_role("button", name="Copy the submit URL of compare-endpoint").is_visible()
    page.locator("#call-panel pre", has_text='"pipeline_arg": 10').wait_for()
    page.get_by_role("tab", name="Java").click()
    assert 'String body = """' in page.locator("#call-panel pre").inner_text()
    page.get_by_role("tab", name="Python").focus()
    page.keyboard.press("ArrowRight")  # the tabs follow the arrow keys
    assert page.get_by_role("tab", name="Java").get_attribute("aria-selected") == "true"
    assert page.get_by_text("Default", exact=True).first.is_visible()
    desktop.check_view("endpoint")

    # The run form: a bad value is refused by the service, and the message sits at the field.
    page.get_by_role("link", name="Run this endpoint").click()
    field = page.get_by_label("pipeline_arg")
    assert field.input_value() == "10"
    desktop.check_view("run-form")
    field.fill("ten")
    page.get_by_role("button", name="Submit run").click()
    error = page.locator("#param-pipeline_arg-error")
    error.wait_for()
    assert "integer" in error.inner_text()
    assert field.get_attribute("aria-invalid") == "true"
    assert "param-pipeline_arg-error" in (field.get_attribute("aria-describedby") or "")
    desktop.check_view("run-form-error")

    # A changed parameter: the run page shows the graph reaching Finished.
    field.fill("25")
    page.get_by_label("Experiment").fill("studio-test")
    page.get_by_role("button", name="Add a tag").click()
    page.get_by_label("Tag 1 name").fill("team")
    page.get_by_label("Tag 1 value").fill("ml")
    desktop.requests.clear()
    page.get_by_role("button", name="Submit run").click()
    page.wait_for_url(re.compile(r"/studio/w/default/runs/[0-9a-f-]{36}$"))
    run_id = page.url.rsplit("/", 1)[-1]
    page.get_by_role("button", name=re.compile(r"^compare Finished")).wait_for(timeout=90_000)
    page.get_by_text(re.compile("^Ended ")).wait_for()  # the run itself has been read as ended
    ended_at = time.monotonic()
    page.wait_for_timeout(4000)
    # Live updates asked at most once a second while the run was active, and nothing after it ended.
    polls = [(t, m, u) for t, m, u in desktop.requests if is_poll(m, u)]
    times = [t for t, _, _ in polls]
    assert len(times) >= 3, polls
    gaps = [b - a for a, b in zip(times[2:], times[3:], strict=False)]
    assert all(gap >= 0.9 for gap in gaps), [round(g, 2) for g in gaps]
    # One last read of the steps may follow the run's end; then nothing.
    after = [u for t, _, u in desktop.requests if t > ended_at + 1.5 and "/studio/" not in u]
    assert after == [], after
    assert page.get_by_role("button", name="Cancel run").count() == 0
    desktop.check_view("run")

    # A step's log, its metrics and its outputs, with a download.
    page.get_by_role("button", name=re.compile(r"^compare Finished")).click()
    log = page.locator("pre.log-text")
    log.wait_for()
    assert "param1: 25" in log.inner_text()
    assert page.url.endswith("?step=" + page.url.split("?step=", 1)[1])  # the step is in the URL: shareable
    desktop.check_view("run-step-log")
    page.get_by_role("tab", name="Metrics").click()
    page.get_by_text("This step logged no metrics.").wait_for()
    page.get_by_role("tab", name="Outputs").click()
    page.get_by_text("summary.json").wait_for()
    with page.expect_download() as download:
        page.get_by_role("button", name="Download summary.json").click()
    saved = Path(download.value.path()).read_text(encoding="utf-8")
    assert '"param1": 25' in saved
    desktop.check_view("run-step-outputs")
    assert "team=ml" in page.locator("main").inner_text()

    # Run history: the run, with its status in words, its duration and who started it.
    page.get_by_role("link", name="Runs", exact=True).click()
    page.get_by_role("heading", name="Run history").wait_for()
    page.get_by_label("Experiment").select_option("studio-test")
    page.get_by_role("button", name="Apply filters").click()
    row = page.locator("tbody tr", has=page.get_by_text(run_id[:8]))
    row.wait_for()
    assert "Finished" in row.inner_text() and "Studio" in row.inner_text()
    assert "experiment=studio-test" in page.url
    desktop.check_view("runs")
    page.get_by_label("Status").select_option("Failed")
    page.get_by_role("button", name="Apply filters").click()
    page.get_by_text("No runs match these filters").wait_for()

    # The published pipeline behind it.
    page.goto(f"{desktop.base_url}/studio/w/{WORKSPACE}/pipelines/{example[0].id}")
    page.get_by_role("heading", name=re.compile("My_Published_Pipeline")).wait_for()
    page.get_by_role("cell", name=re.compile("Finished")).first.wait_for()
    desktop.check_view("pipeline")


def test_a_step_that_ran_twice_lists_its_attempts(desktop: Studio, workspace: Workspace, tmp_path: Path) -> None:
    # GIVEN a run whose step failed once and finished on its retry
    flag = tmp_path / "failed-once"
    pipeline = make.single(tmp_path / "code", f"""
        flag = pathlib.Path({str(flag)!r})
        if not flag.exists():
            flag.write_text("x")
            sys.exit("the first attempt fails")
    """, max_retries=1)
    published = publish(workspace, pipeline, "retried")
    service = Service(desktop.base_url, workspace=WORKSPACE)
    run_id = service.post(f"/PipelineRuns/PipelineSubmit/{published.id}", json={}).json()["Id"]
    assert service.wait_run(run_id)["Status"]["StatusCode"] == 3
    # WHEN its step is opened in the studio
    page = desktop.page
    desktop.sign_in()
    page.goto(f"{desktop.base_url}/studio/w/{WORKSPACE}/runs/{run_id}")
    page.get_by_role("button", name=re.compile(r"^main Finished")).click()
    # THEN both attempts are listed with how they ended and why
    table = page.get_by_role("table", name="Attempts")
    table.wait_for()
    rows = [row.inner_text().split("\t") for row in table.locator("tbody tr").all()]
    assert [r[:2] for r in rows] == [["1", "Failed"], ["2", "Finished"]], rows
    assert rows[0][3] == "1" and "Retry: exit code 1: the first attempt fails" in rows[0][4]
    desktop.check_view("run-step-attempts")
    # AND each attempt's log is a link away: the first attempt's standard error says why it failed
    page.locator("#log-kind").select_option("STDERR")
    page.get_by_role("link", name="Log of attempt 1").click()
    page.get_by_text("The log of attempt 1.").wait_for()
    page.locator("pre.log-text", has_text="the first attempt fails").wait_for()
    assert "attempt=1" in page.url
    # AND Escape closes the step, handing the focus back to its button in the graph
    page.locator("pre.log-text").focus()
    page.keyboard.press("Escape")
    expect(page.locator(".step-panel")).to_have_count(0)
    expect(page.locator("button.node:focus")).to_have_attribute("title", re.compile(r"^main:"))
    assert "step=" not in page.url


def test_disabling_the_pipeline_takes_the_run_button_away(desktop: Studio, workspace: Workspace, example) -> None:
    page = desktop.page
    desktop.sign_in(("Pipelines.Submit", "Pipelines.Publish"))
    # The endpoint's default version is kept while the endpoint runs: the service's 409 is shown.
    page.goto(f"{desktop.base_url}/studio/w/{WORKSPACE}/pipelines/{example[0].id}")
    page.get_by_role("link", name="Run this pipeline").wait_for()
    page.get_by_role("button", name="Disable pipeline").click()
    page.get_by_role("alert").filter(has_text="compare-endpoint").wait_for()
    assert page.get_by_role("link", name="Run this pipeline").is_visible()
    # A pipeline behind no endpoint is disabled, and its run button goes.
    other = publish(workspace, load_pipeline(ROOT / "examples" / "compare"), "Alone", "no endpoint", "1.0")
    page.goto(f"{desktop.base_url}/studio/w/{WORKSPACE}/pipelines/{other.id}")
    run_button = page.get_by_role("link", name="Run this pipeline")
    run_button.wait_for()
    page.get_by_role("button", name="Disable pipeline").click()
    page.get_by_role("button", name="Enable pipeline").wait_for()
    assert run_button.count() == 0
    assert page.get_by_text("This pipeline is disabled").is_visible()
    desktop.check_view("pipeline-disabled")
    # And the service agrees on both.
    base = example[0].entity["Url"].split("/PipelineRuns/")[0]
    headers = {"Authorization": f"Bearer {devissuer.mint()}"}
    statuses = [httpx.get(f"{base}/Pipelines/{pipeline_id}", headers=headers, timeout=30).json()["EntityStatus"]
                for pipeline_id in (example[0].id, other.id)]
    assert statuses == [0, 2]


def test_endpoint_actions_set_the_default_version_and_disable(desktop: Studio, workspace: Workspace, example) -> None:
    from pipelines.client import PipelineEndpoint

    second = publish(workspace, load_pipeline(ROOT / "examples" / "compare"), "Second", "v2", "2.0")
    PipelineEndpoint.get(workspace, name="compare-endpoint").add(second)
    page = desktop.page
    desktop.sign_in(("Pipelines.Admin",))
    page.goto(f"{desktop.base_url}/studio/w/{WORKSPACE}/endpoints/compare-endpoint")
    page.get_by_role("button", name="Make version 1 the default").click()
    page.get_by_role("button", name="Make version 0 the default").wait_for()
    assert page.locator("tr.is-default").inner_text().startswith("1")
    page.get_by_role("button", name="Disable endpoint").click()
    page.get_by_role("button", name="Enable endpoint").wait_for()
    assert page.get_by_role("link", name="Run this endpoint").count() == 0
    assert PipelineEndpoint.get(workspace, name="compare-endpoint").entity["EntityStatus"] == 2


def test_a_read_only_token_sees_no_action_buttons(desktop: Studio, workspace: Workspace, example) -> None:
    run = example[1].submit("read-only", pipeline_parameters={"pipeline_arg": 3})
    run.wait_for_completion(show_output=False)
    page = desktop.page
    desktop.sign_in(("Pipelines.Read",))
    assert "(Read)" in page.locator(".who").inner_text()
    actions = re.compile(r"^(Run this|Disable|Enable|Make version|Cancel run)")
    for path, heading in (("endpoints/compare-endpoint", "compare-endpoint"),
                          (f"pipelines/{example[0].id}", "My_Published_Pipeline"),
                          (f"runs/{run.id}", "Run ")):
        page.goto(f"{desktop.base_url}/studio/w/{WORKSPACE}/{path}")
        page.get_by_role("heading", name=re.compile(heading)).first.wait_for()
        page.wait_for_load_state("networkidle")
        names = [b.inner_text() for b in page.get_by_role("button").all()] + \
                [a.inner_text() for a in page.get_by_role("link").all()]
        assert not [n for n in names if actions.match(n.strip())], (path, names)
    desktop.check_view("read-only-run")


# -- states in words ---------------------------------------------------------------------------------------------
def test_expired_forbidden_and_service_down_are_said_in_words(desktop: Studio, example) -> None:
    page = desktop.page
    desktop.open("/studio/")
    # the page is up (and done with its own session storage) before the test writes a session into it
    page.get_by_role("button", name="Sign in as the local developer").wait_for()
    expired = devissuer.mint(extra_claims={"exp": int(time.time()) - 60, "iat": int(time.time()) - 4000,
                                           "nbf": int(time.time()) - 4000})
    page.evaluate(
        "token => sessionStorage.setItem('studio.session', JSON.stringify({token, source: 'pasted'}))", expired
    )
    page.goto(f"{desktop.base_url}/studio/w/{WORKSPACE}/endpoints")
    page.get_by_text("Your sign-in has expired").wait_for()
    desktop.check_view("signin-expired")

    # A token without any of the studio's roles: 403s, said as such.
    page.get_by_text("Or paste a token").click()
    page.get_by_label(re.compile("A token from")).fill(devissuer.mint(roles=["Someone.Else"]))
    page.get_by_role("button", name="Use this token").click()
    page.get_by_text("Not allowed").first.wait_for()
    assert "lacks the role" in page.locator("main").inner_text()
    desktop.check_view("forbidden")
    page.get_by_role("button", name="Sign out").click()

    desktop.sign_in()
    # The service down (no answer), then unable to reach its storage (503).
    page.route(re.compile(r"/pipelines/v1\.0/"), lambda route: route.abort())
    page.goto(f"{desktop.base_url}/studio/w/{WORKSPACE}/endpoints")
    page.get_by_text("The service does not answer").first.wait_for()
    desktop.errors.clear()  # the browser logs the aborted requests
    desktop.check_view("service-down")
    page.unroute(re.compile(r"/pipelines/v1\.0/"))
    page.route(re.compile(r"/pipelines/v1\.0/"), lambda route: route.fulfill(
        status=503, content_type="application/json",
        body='{"Error":{"Code":"ServiceUnavailable","Message":"storage","Target":null,"Details":[]},'
             '"Correlation":{"RequestId":"r-1"}}'))
    page.get_by_role("button", name="Try again").first.click()
    page.get_by_text("The service is unavailable").first.wait_for()
    page.unroute(re.compile(r"/pipelines/v1\.0/"))
    # An unknown run is a 404 in words.
    page.goto(f"{desktop.base_url}/studio/w/{WORKSPACE}/runs/00000000-0000-0000-0000-000000000000")
    page.get_by_text("Not found").wait_for()


# -- a 99-step pipeline, live, with metrics and a cancel -------------------------------------------------------------
STEP_SCRIPT = """
    import argparse, pathlib, time
    from pipelines.runtime import Run

    parser = argparse.ArgumentParser()
    parser.add_argument("--name")
    parser.add_argument("--out")
    parser.add_argument("--inp", action="append", default=[])
    parser.add_argument("--pause", type=float, default=0)
    args = parser.parse_args()
    run = Run.get_context()
    if args.name == "s0_0":
        for loss in (0.92, 0.61, 0.44, 0.35, 0.3, 0.28):
            run.log("loss", loss)
        run.log("accuracy", 0.93)
    print("step", args.name, "read", len(args.inp), "inputs", flush=True)
    time.sleep(args.pause)
    pathlib.Path(args.out, "value.txt").write_text(args.name)
"""


def ninety_nine_steps(folder: Path) -> Pipeline:
    """9 stages of 11 steps; each step reads the same step of the stage before, and that stage's first."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "step.py").write_text(textwrap.dedent(STEP_SCRIPT), encoding="utf-8")
    outputs: dict[str, PipelineData] = {}
    steps = []
    for stage in range(9):
        for part in range(11):
            key = f"s{stage}_{part}"
            out = PipelineData(f"out_{key}")
            outputs[key] = out
            inputs = [] if stage == 0 else [outputs[f"s{stage - 1}_{part}"]]
            if stage and part:
                inputs.append(outputs[f"s{stage - 1}_0"])
            arguments: list[object] = ["--name", key, "--out", out, "--pause", "0" if stage == 0 else "2"]
            for data in inputs:
                arguments += ["--inp", data]
            steps.append(PythonScriptStep(name=f"stage{stage}-transform-part{part:02d}", script_name="step.py",
                                          source_directory=str(folder), arguments=arguments, inputs=inputs,
                                          outputs=[out]))
    return Pipeline(steps=steps, description="99 steps")


@pytest.mark.slow
def test_a_99_step_graph_is_legible_live_and_can_be_canceled(
    browser, host, workspace: Workspace, tmp_path: Path
) -> None:
    published = publish(workspace, ninety_nine_steps(tmp_path / "wide"), "Wide", "99 steps", "1.0")
    run = published.submit("wide", pipeline_parameters={})
    for tab in (Studio(browser, host.base_url, DESKTOP), Studio(browser, host.base_url, PHONE)):
        try:
            page = tab.page
            tab.sign_in()
            page.goto(f"{tab.base_url}/studio/w/{WORKSPACE}/runs/{run.id}")
            nodes = page.locator("button.node")
            expect(nodes).to_have_count(99)
            page.locator(".graph-edges path.edge").first.wait_for(state="attached")
            assert page.locator(".graph-edges path.edge").count() == 11 * 8 + 10 * 8
            if tab.size == "desktop":
                boxes = [nodes.nth(i).bounding_box() for i in range(99)]
                for i, a in enumerate(boxes):
                    for b in boxes[i + 1:]:
                        assert (a["x"] + a["width"] <= b["x"] or b["x"] + b["width"] <= a["x"]
                                or a["y"] + a["height"] <= b["y"] or b["y"] + b["height"] <= a["y"]), (a, b)
                size = page.evaluate("parseFloat(getComputedStyle(document.querySelector('.node-name')).fontSize)")
                assert size >= 12, size
                finished = page.get_by_role("button", name=re.compile(r"^stage0-transform-part00 Finished"))
                finished.wait_for(timeout=60_000)
                page.get_by_role("button", name=re.compile(r"^stage0-transform-part00")).click()
                page.get_by_role("tab", name="Metrics").click()
                page.get_by_role("cell", name="0.92, 0.61, 0.44, 0.35, 0.3, 0.28").wait_for()
                page.locator(".chart canvas").wait_for()
            tab.check_view("run-99-steps")
        finally:
            tab.close()
    # Cancel from the page: the run ends Canceled.
    tab = Studio(browser, host.base_url, DESKTOP)
    try:
        page = tab.page
        tab.sign_in()
        page.goto(f"{tab.base_url}/studio/w/{WORKSPACE}/runs/{run.id}")
        page.get_by_role("button", name="Cancel run").click()
        page.locator(".toolbar .badge", has_text=re.compile("Canceling|Canceled")).wait_for()
        page.locator(".toolbar .badge", has_text="Canceled").wait_for(timeout=90_000)
        assert page.get_by_role("button", name="Cancel run").count() == 0
    finally:
        tab.close()


# -- every view at 375 px ----------------------------------------------------------------------------------------
def test_every_view_works_at_375_px(phone: Studio, example) -> None:
    page = phone.page
    run = example[1].submit("phone", pipeline_parameters={"pipeline_arg": 7})
    run.wait_for_completion(show_output=False)
    phone.open("/studio/")
    page.get_by_role("heading", name="Sign in to the pipelines studio").wait_for()
    phone.check_view("signin")
    phone.sign_in()
    phone.check_view("endpoints")
    page.get_by_role("link", name="compare-endpoint").click()
    page.get_by_role("heading", name=re.compile("compare-endpoint")).wait_for()
    phone.check_view("endpoint")
    page.get_by_role("link", name="Run this endpoint").click()
    page.get_by_label("pipeline_arg").fill("x")
    page.get_by_role("button", name="Submit run").click()
    page.locator("#param-pipeline_arg-error").wait_for()
    phone.check_view("run-form-error")
    page.goto(f"{phone.base_url}/studio/w/{WORKSPACE}/runs/{run.id}")
    page.get_by_role("button", name=re.compile(r"^compare Finished")).click()
    page.locator("pre.log-text").wait_for()
    phone.check_view("run-step-log")
    page.get_by_role("tab", name="Outputs").click()
    page.get_by_text("summary.json").wait_for()
    phone.check_view("run-step-outputs")
    page.get_by_role("link", name="Runs", exact=True).click()
    page.locator("tbody tr").first.wait_for()
    phone.check_view("runs")
    page.goto(f"{phone.base_url}/studio/w/{WORKSPACE}/pipelines/{example[0].id}")
    page.get_by_role("heading", name=re.compile("My_Published_Pipeline")).wait_for()
    phone.check_view("pipeline")
    page.get_by_role("link", name="Automation").click()
    page.get_by_text("No schedules in this workspace").wait_for()
    page.get_by_text("No event triggers in this workspace").wait_for()
    phone.check_view("automation-empty")


def test_the_keyboard_reaches_every_control(desktop: Studio, example) -> None:
    """Tab from the top of the endpoint page: every button and link is reached, each with a visible focus."""
    page = desktop.page
    desktop.sign_in()
    page.goto(f"{desktop.base_url}/studio/w/{WORKSPACE}/endpoints/compare-endpoint")
    page.get_by_role("heading", name=re.compile("compare-endpoint")).wait_for()
    page.wait_for_load_state("networkidle")
    reached = set()
    for _ in range(60):
        page.keyboard.press("Tab")
        info = page.evaluate("""() => { const e = document.activeElement;
            if (e === document.body) return {text: '', outline: 'none'};
            return {text: (e.getAttribute('aria-label') || e.innerText || e.id || '').trim(),
                    outline: getComputedStyle(e).outlineStyle}; }""")
        reached.add(info["text"])
        assert info["outline"] != "none" or info["text"] == "", info
    for wanted in ("Skip to the content", "Run this endpoint", "Disable endpoint",
                   "Copy the submit URL of compare-endpoint", "curl"):
        assert wanted in reached, (wanted, reached)


# -- lists, run history, the run form and the log, as the audit found them -------------------------------------
def test_a_workspace_with_105_pipelines_lists_them_all(desktop: Studio, example) -> None:
    # GIVEN a service that pages the pipeline list (100, then 5, with x-ms-continuation between)
    pipelines = [{**example[0].entity, "Id": f"p{i:03d}", "Name": f"pipeline-{i:03d}"} for i in range(105)]

    def pages(route: Any) -> None:
        if route.request.method != "GET":
            return route.continue_()
        second = "continuationToken=page2" in route.request.url
        route.fulfill(status=200, content_type="application/json",
                      headers={} if second else {"x-ms-continuation": "page2"},
                      body=__import__("json").dumps(pipelines[100:] if second else pipelines[:100]))

    page = desktop.page
    desktop.sign_in()
    page.route(re.compile(r"/Pipelines\?activeOnly"), pages)
    # WHEN the endpoints page lists them
    page.goto(f"{desktop.base_url}/studio/w/{WORKSPACE}/endpoints")
    # THEN every one of the 105 is there
    table = page.get_by_role("region", name="Published pipelines").locator("tbody tr")
    expect(table).to_have_count(105)
    assert "pipeline-104" in table.nth(104).inner_text()


SLOW_STEP = """
    print("started", flush=True)
    time.sleep(15)
    print("done", flush=True)
"""


def test_an_endpoint_run_from_the_form_its_live_log_and_its_history_across_experiments(
    desktop: Studio, workspace: Workspace, tmp_path: Path
) -> None:
    from pipelines.client import PipelineEndpoint

    # GIVEN a pipeline whose name is no valid experiment name, behind an endpoint that already
    # ran in another experiment
    # (a parameter, so that the earlier run's step, with another value, is not reused)
    seed = PipelineParameter("seed", default_value=1)
    pipeline = make.single(tmp_path / "code", SLOW_STEP, arguments=["--seed", seed])
    published = publish(workspace, pipeline, "Slow scoring v1.0", "slow", "1.0")
    endpoint = PipelineEndpoint.publish(workspace, "slow-endpoint", "slow", published)
    service = Service(desktop.base_url, workspace=WORKSPACE)
    earlier = service.post(f"/PipelineRuns/PipelineEndpointSubmit/Id/{endpoint.id}", json={
        "ExperimentName": "other-experiment", "ParameterAssignments": {"seed": 2}}).json()["Id"]
    page = desktop.page
    desktop.sign_in()

    # WHEN it is run from the form with the defaults: the experiment is left empty, its default shown
    page.goto(f"{desktop.base_url}/studio/w/{WORKSPACE}/endpoints/slow-endpoint/run")
    experiment = page.get_by_label("Experiment")
    assert experiment.input_value() == ""
    assert experiment.get_attribute("placeholder") == "Slow_scoring_v1_0"
    page.get_by_role("button", name="Submit run").click()
    page.wait_for_url(re.compile(r"/studio/w/default/runs/[0-9a-f-]{36}$"))
    run_id = page.url.rsplit("/", 1)[-1]

    # THEN its log survives the service failing for a while (503): the page asks again by itself
    page.get_by_role("button", name=re.compile(r"^main Running")).wait_for(timeout=60_000)
    log_route = re.compile(r"/Graph/Shareable/")
    page.route(log_route, lambda route: route.fulfill(
        status=503, content_type="application/json",
        body='{"Error":{"Code":"ServiceUnavailable","Message":"storage","Target":null,"Details":[]}}'))
    page.get_by_role("button", name=re.compile(r"^main Running")).click()
    page.get_by_text("The service is unavailable").wait_for()
    assert page.get_by_role("button", name="Try again").is_visible()
    page.unroute(log_route)
    page.locator("pre.log-text", has_text="started").wait_for(timeout=30_000)
    assert page.get_by_text("The service is unavailable").count() == 0
    desktop.errors.clear()  # the browser logs the 503s

    # AND the endpoint's run history lists its runs of both experiments, by pipeline name, live
    page.goto(f"{desktop.base_url}/studio/w/{WORKSPACE}/endpoints/slow-endpoint")
    page.get_by_role("link", name="Run history").click()
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(2)
    assert all("Slow scoring v1.0" in row.inner_text() for row in rows.all())
    row = page.locator("tbody tr", has=page.get_by_text(run_id[:8]))
    assert "Running" in row.inner_text(), row.inner_text()
    first = row.locator("td").nth(4).inner_text()
    page.wait_for_timeout(2500)
    assert row.locator("td").nth(4).inner_text() != first  # the duration of a running run moves on
    expect(row).to_contain_text("Finished", timeout=60_000)  # no reload: the list polls while a run is active
    assert page.locator("tbody tr", has=page.get_by_text(earlier[:8])).count() == 1
    assert page.get_by_label("Experiment").input_value() == ""  # all experiments
    desktop.check_view("runs-of-endpoint")


def test_an_expired_sign_in_keeps_what_the_run_form_held(desktop: Studio, example) -> None:
    page = desktop.page
    desktop.open("/studio/")
    page.get_by_role("button", name="Sign in as the local developer").wait_for()
    short = devissuer.mint(extra_claims={"exp": int(time.time()) + 12})
    page.evaluate("token => sessionStorage.setItem('studio.session', JSON.stringify({token, source: 'pasted'}))", short)
    page.goto(f"{desktop.base_url}/studio/w/{WORKSPACE}/endpoints/compare-endpoint/run")
    page.get_by_label("pipeline_arg").fill("42")
    page.get_by_label("Description").fill("typed before the expiry")
    # The token expires while the form is open: sign-in, saying why.
    page.get_by_text("Your sign-in has expired").wait_for(timeout=30_000)
    page.get_by_role("button", name="Sign in as the local developer").click()
    # Back on the form, with what was typed.
    assert page.get_by_label("pipeline_arg").input_value() == "42"
    assert page.get_by_label("Description").input_value() == "typed before the expiry"
    page.get_by_role("button", name="Reset to the defaults").click()
    assert page.get_by_label("pipeline_arg").input_value() == "10"


def test_a_failed_run_can_be_rerun(desktop: Studio, workspace: Workspace, tmp_path: Path) -> None:
    published = publish(workspace, make.single(tmp_path / "code", 'sys.exit("boom")'), "failing")
    service = Service(desktop.base_url, workspace=WORKSPACE)
    run_id = service.post(f"/PipelineRuns/PipelineSubmit/{published.id}", json={}).json()["Id"]
    assert service.wait_run(run_id)["Status"]["StatusCode"] == 2
    page = desktop.page
    desktop.sign_in()
    page.goto(f"{desktop.base_url}/studio/w/{WORKSPACE}/runs/{run_id}")
    page.get_by_role("button", name="Rerun").click()
    page.wait_for_url(lambda url: re.search(r"/runs/[0-9a-f-]{36}$", url) is not None and run_id not in url)
    page.get_by_role("heading", name=re.compile("^Run ")).wait_for()


# -- schedules and event triggers --------------------------------------------------------------------------------
def test_schedules_and_triggers_are_listed_with_their_firings_and_can_be_disabled_enabled_and_deleted(
    desktop: Studio, phone: Studio, workspace: Workspace, example
) -> None:
    from pipelines.client import PublishedPipeline
    from pipelines.schedules.service import Schedules
    from pipelines.store import get_account

    # GIVEN two schedules and a trigger written through the API by Alice: one schedule on the example
    # endpoint, one on a pipeline of its own that is then disabled, so that its fire time starts no run
    alone = publish(workspace, load_pipeline(ROOT / "examples" / "compare"), "Alone", "no endpoint", "1.0")
    service = Service(desktop.base_url, workspace=WORKSPACE)
    alice = {"Authorization": "Bearer " + devissuer.mint(list(ALL_ROLES), name="Alice")}
    start = (datetime.now(UTC) - timedelta(minutes=1)).replace(second=0, microsecond=0)
    bodies = {
        "/Schedules/nightly": {
            "PipelineEndpointName": "compare-endpoint", "Description": "The compare example every night",
            "Recurrence": {"Frequency": "Day", "Interval": 1, "StartTime": start.isoformat()},
            "Request": {"ExperimentName": "nightly", "ParameterAssignments": {"pipeline_arg": 20}}},
        "/Schedules/every-2-hours": {
            "PipelineId": alone.id,
            "Recurrence": {"Frequency": "Hour", "Interval": 2, "StartTime": start.isoformat()}},
        "/EventTriggers/arrivals": {
            "PipelineEndpointName": "compare-endpoint", "EventTypes": ["Microsoft.Storage.BlobCreated"],
            "SubjectBeginsWith": "/blobServices/default/containers/workspaceblobstore/blobs/default/incoming/",
            "SubjectEndsWith": ".csv", "Request": {"ExperimentName": "on-arrival"}},
    }
    for path, body in bodies.items():
        written = httpx.put(service.ws + path, json=body, headers=alice, timeout=60)
        assert written.status_code == 200, written.text
    PublishedPipeline.get(workspace, alone.id).disable()
    # (their fire times a day on, as the app's timer would find them)
    happened = Schedules(get_account()).fire_due(start + timedelta(days=1, seconds=1))
    assert len(happened) == 2, happened
    nightly = service.get("/Schedules/nightly").json()
    assert nightly["LastRunId"], nightly
    assert service.get("/Schedules/every-2-hours").json()["LastError"]["Code"] == "EntityDisabled"

    # WHEN an admin opens the view from the main navigation
    page = desktop.page
    desktop.sign_in()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Automation").click()
    page.get_by_role("heading", name="Schedules and event triggers").wait_for()
    assert page.url.endswith(f"/studio/w/{WORKSPACE}/automation")

    def row(name: str) -> Any:
        return page.locator("tbody tr", has=page.get_by_role("rowheader", name=re.compile(f"^{re.escape(name)}")))

    # THEN each says when it fires, what it runs, its experiment, its last firing and who wrote it
    row("nightly").wait_for()
    expect(page.locator("table.automation").first.locator("tbody tr")).to_have_count(2)
    text = row("nightly").inner_text()
    for words in ("The compare example every night", "Active", f"Every day at {start:%H:%M} UTC",
                  "Endpoint compare-endpoint", "(its default version)", "Next: ", "Last run ", "Alice"):
        assert words in text, (words, text)
    assert row("nightly").locator("td").nth(3).inner_text() == "nightly"  # the experiment
    assert row("nightly").locator(".skip-count").inner_text() == "0"
    assert row("nightly").get_by_role("link", name="compare-endpoint").get_attribute("href") == \
        f"/studio/w/{WORKSPACE}/endpoints/compare-endpoint"
    # AND a fire time that started no run says so, with why, when, and the count
    skipped = row("every-2-hours")
    assert "last-skipped" in (skipped.get_attribute("class") or "")
    text = skipped.inner_text()
    for words in ("Every 2 hours, starting", "Pipeline Alone", "the pipeline's name",
                  "Its last firing started no run.", "Fire time ", "EntityDisabled"):
        assert words in text, (words, text)
    assert skipped.locator(".skip-count").inner_text() == "1"
    assert "Last run" not in text
    # AND the trigger: its events and subject filters, never fired yet
    trigger = row("arrivals")
    text = trigger.inner_text()
    for words in ("Microsoft.Storage.BlobCreated", "Subject begins with", "/incoming/", "and ends with", ".csv",
                  "on-arrival", "Never", "Alice"):
        assert words in text, (words, text)
    desktop.check_view("automation")
    # AND the last run is a link to its run page
    row("nightly").get_by_role("link", name=re.compile("^Last run ")).click()
    page.wait_for_url(re.compile(f"/runs/{nightly['LastRunId']}$"))
    # AND that run's page names the schedule that started it, linked back to its row
    page.get_by_text("started by the schedule").wait_for()
    page.get_by_role("link", name="The schedule nightly").click()
    page.wait_for_url(re.compile(r"/automation#schedule-nightly$"))
    row("nightly").wait_for()
    page.go_back()
    page.go_back()

    # WHEN nightly is disabled: it says so, the next fire time goes, and the service agrees
    page.get_by_role("button", name="Disable the schedule nightly").click()
    page.get_by_role("button", name="Enable the schedule nightly").wait_for()
    assert "Disabled" in row("nightly").inner_text() and "Next: " not in row("nightly").inner_text()
    read = service.get("/Schedules/nightly").json()
    assert read["EntityStatus"] == 2 and read["LastRunId"] == nightly["LastRunId"]
    assert read["LastModifiedBy"]["UserName"] == devissuer.DEV_NAME  # the studio's user wrote it last
    page.get_by_role("button", name="Enable the schedule nightly").click()
    page.get_by_role("button", name="Disable the schedule nightly").wait_for()
    assert service.get("/Schedules/nightly").json()["EntityStatus"] == 0
    # AND enabling a schedule whose pipeline is disabled is the service's 409, in words
    page.get_by_role("button", name="Disable the schedule every-2-hours").click()
    page.get_by_role("button", name="Enable the schedule every-2-hours").click()
    alert = page.get_by_role("alert").filter(has_text="Enabling the schedule every-2-hours failed: Conflict.")
    alert.wait_for()
    assert "disabled" in alert.inner_text()
    assert "Disabled" in row("every-2-hours").inner_text()
    desktop.check_view("automation-conflict")

    # WHEN the trigger is deleted: asked first, kept on "Keep", gone on "Yes, delete"
    page.get_by_role("button", name="Delete the event trigger arrivals").click()
    page.get_by_role("group", name="Delete the event trigger arrivals?").wait_for()
    focused = "document.activeElement.getAttribute('aria-label')"
    assert page.evaluate(focused) == "Yes, delete the event trigger arrivals"  # the focus goes to the question
    page.get_by_role("button", name="Keep the event trigger arrivals").click()
    assert page.evaluate(focused) == "Delete the event trigger arrivals"  # and back
    page.get_by_role("button", name="Delete the event trigger arrivals").click()
    page.get_by_role("button", name="Yes, delete the event trigger arrivals").click()
    # THEN the empty state says how to make one
    page.get_by_text("No event triggers in this workspace").wait_for()
    assert "pipelines trigger create" in page.locator("main").inner_text()
    assert service.get("/EventTriggers/arrivals").status_code == 404

    # AND Publish alone may delete one (as DELETE needs) but not disable it (PUT needs Submit too)
    page = phone.page
    phone.sign_in(("Pipelines.Publish",))
    page.goto(f"{phone.base_url}/studio/w/{WORKSPACE}/automation")
    page.get_by_role("button", name="Delete the schedule nightly").wait_for()
    assert page.get_by_role("button", name=re.compile("^(Disable|Enable) ")).count() == 0
    assert "here they can be deleted." in page.locator("main").inner_text()
    page.get_by_role("button", name="Sign out").click()
    # AND a read-only token sees the same list without any action (at 375 px)
    phone.sign_in(("Pipelines.Read",))
    page.goto(f"{phone.base_url}/studio/w/{WORKSPACE}/automation")
    page.get_by_role("rowheader", name=re.compile("^nightly")).wait_for()
    page.wait_for_load_state("networkidle")
    buttons = [b.inner_text().strip() for b in page.get_by_role("button").all()]
    assert not [b for b in buttons if re.match(r"^(Disable|Enable|Delete|Yes, delete)", b)], buttons
    assert page.get_by_role("columnheader", name="Actions").count() == 0
    assert "can be disabled" not in page.locator("main").inner_text()
    phone.check_view("automation")


def utc_moment(moment: datetime) -> str:
    """A time as the Automation view says it: "2 Dec 2026, 02:00 UTC" (automation.ts `utcMoment`)."""
    return f"{moment.day} {moment:%b %Y}, {moment:%H:%M} UTC"


def test_the_automation_view_shows_firings_and_changes_made_elsewhere_without_a_reload(
    desktop: Studio, example
) -> None:
    from pipelines.schedules.service import Schedules
    from pipelines.store import get_account

    # GIVEN two schedules on the example endpoint that have not fired yet, and a trigger, written by Alice
    service = Service(desktop.base_url, workspace=WORKSPACE)
    alice = {"Authorization": "Bearer " + devissuer.mint(list(ALL_ROLES), name="Alice")}
    start = (datetime.now(UTC) - timedelta(minutes=1)).replace(second=0, microsecond=0)
    bodies = {
        "/Schedules/nightly": {"PipelineEndpointName": "compare-endpoint",
                               "Recurrence": {"Frequency": "Day", "Interval": 1, "StartTime": start.isoformat()}},
        "/Schedules/weekly": {"PipelineEndpointName": "compare-endpoint",
                              "Recurrence": {"Frequency": "Week", "Interval": 1, "StartTime": start.isoformat()}},
        "/EventTriggers/arrivals": {"PipelineEndpointName": "compare-endpoint",
                                    "EventTypes": ["Microsoft.Storage.BlobCreated"]},
    }
    for path, body in bodies.items():
        written = httpx.put(service.ws + path, json=body, headers=alice, timeout=60)
        assert written.status_code == 200, written.text

    # AND the view open, with the question "delete it?" open on the trigger
    page = desktop.page
    desktop.sign_in()
    page.goto(f"{desktop.base_url}/studio/w/{WORKSPACE}/automation")

    def row(name: str) -> Any:
        return page.locator("tbody tr", has=page.get_by_role("rowheader", name=re.compile(f"^{re.escape(name)}")))

    row("nightly").wait_for()
    text = row("nightly").inner_text()
    assert "Never" in text and f"Next: {utc_moment(start + timedelta(days=1))}" in text, text
    page.evaluate("window.stayed = true")  # gone if the page were loaded again
    opened = time.monotonic()
    page.get_by_role("button", name="Delete the event trigger arrivals").click()
    question = page.get_by_role("group", name="Delete the event trigger arrivals?")
    question.wait_for()
    focused = "document.activeElement.getAttribute('aria-label')"
    assert page.evaluate(focused) == "Yes, delete the event trigger arrivals"

    # WHEN nightly's fire time comes (as the app's timer would find it) and Alice disables the trigger
    fired = start + timedelta(days=1)
    happened = Schedules(get_account()).fire_due(fired + timedelta(seconds=1))
    assert len(happened) == 1 and "nightly" in happened[0], happened
    run_id = service.get("/Schedules/nightly").json()["LastRunId"]
    assert run_id
    trigger = service.get("/EventTriggers/arrivals").json()
    written = httpx.put(service.ws + "/EventTriggers/arrivals", json={**trigger, "EntityStatus": 2}, headers=alice,
                        timeout=60)
    assert written.status_code == 200, written.text

    # THEN, without a reload, nightly shows its last run and its next fire time a day on
    expect(row("nightly").get_by_role("link", name=f"Last run {run_id[:8]}")).to_be_visible(timeout=15_000)
    text = row("nightly").inner_text()
    assert utc_moment(fired) in text and f"Next: {utc_moment(fired + timedelta(days=1))}" in text, text
    assert "Never" not in text
    # AND the trigger says it is disabled, while the question asked on it stays open, focused
    expect(row("arrivals").locator(".badge")).to_have_text("Disabled")
    assert question.is_visible()
    assert page.evaluate(focused) == "Yes, delete the event trigger arrivals"
    assert "Fired since the last look: nightly." in page.get_by_role("status").all_inner_texts()
    assert page.evaluate("window.stayed === true")
    # AND, answered "Keep", the trigger's buttons are those of its fresh state
    page.get_by_role("button", name="Keep the event trigger arrivals").click()
    page.get_by_role("button", name="Enable the event trigger arrivals").wait_for()

    # WHEN a read the view made is answered only after the user disabled weekly (it holds weekly active)
    held: list[tuple[Any, Any]] = []

    def hold(route: Any) -> None:
        if route.request.method == "GET" and not held:
            held.append((route, route.fetch()))  # the service's answer now, given to the page later
        else:
            route.continue_()

    page.route(re.compile(r"/Schedules(\?.*)?$"), hold)
    deadline = time.monotonic() + 15
    while not held and time.monotonic() < deadline:
        page.wait_for_timeout(200)
    assert held, "the view did not read the schedules again within 15 s"
    page.get_by_role("button", name="Disable the schedule weekly").click()
    page.get_by_role("button", name="Enable the schedule weekly").wait_for()
    route, stale = held[0]
    assert [s["EntityStatus"] for s in stale.json() if s["Name"] == "weekly"] == [0]
    route.fulfill(response=stale)
    page.wait_for_timeout(1500)
    # THEN the stale answer does not undo the disable
    assert "Disabled" in row("weekly").inner_text()
    assert page.get_by_role("button", name="Enable the schedule weekly").is_visible()
    assert service.get("/Schedules/weekly").json()["EntityStatus"] == 2
    page.unroute(re.compile(r"/Schedules(\?.*)?$"))

    # AND the view read the lists every 10 s at most (one read of each per look)
    looks = [t for t, m, u in desktop.requests
             if m == "GET" and re.search(r"/Schedules(\?.*)?$", u) and t > opened]
    assert len(looks) >= 2 and all(b - a >= 9.8 for a, b in zip(looks, looks[1:], strict=False)), looks
    assert not desktop.errors, desktop.errors


# -- run history picks up runs submitted elsewhere -------------------------------------------------------------
def test_run_history_lists_runs_submitted_elsewhere_without_a_reload(desktop: Studio, example) -> None:
    service = Service(desktop.base_url, workspace=WORKSPACE)

    def submit(experiment: str) -> str:
        answer = service.post(f"/PipelineRuns/PipelineEndpointSubmit/Id/{example[1].id}",
                              json={"ExperimentName": experiment, "ParameterAssignments": {"pipeline_arg": 3}})
        assert answer.status_code == 200, answer.text
        return str(answer.json()["Id"])

    def rows_of(run_id: str) -> Any:
        return page.locator("tbody tr", has=page.get_by_text(run_id[:8]))

    # GIVEN run history open, all experiments, with one run listed
    first = submit("live-a")
    page = desktop.page
    desktop.sign_in()
    page.goto(f"{desktop.base_url}/studio/w/{WORKSPACE}/runs")
    rows_of(first).wait_for()
    page.evaluate("window.stayed = true")  # gone if the page were loaded again
    opened = time.monotonic()
    # WHEN runs are submitted elsewhere: one to an experiment the list read, one to a new experiment
    second = submit("live-a")
    third = submit("live-b")
    # THEN they appear at the top, without a reload
    expect(rows_of(second)).to_have_count(1, timeout=20_000)
    expect(rows_of(third)).to_have_count(1, timeout=20_000)
    expect(page.locator("tbody tr")).to_have_count(3)
    top = " ".join(page.locator("tbody tr").nth(i).inner_text() for i in range(2))
    assert second[:8] in top and third[:8] in top, top
    assert first[:8] in page.locator("tbody tr").nth(2).inner_text()
    assert page.evaluate("window.stayed === true")
    assert "live-b" in [o.get_attribute("value") for o in page.get_by_label("Experiment").locator("option").all()]
    # AND the list looked for them at most every 5 s (one read of the experiments per look)
    looks = [t for t, m, u in desktop.requests if m == "GET" and u.endswith("/experiments") and t > opened]
    assert looks and all(b - a >= 4.8 for a, b in zip(looks, looks[1:], strict=False)), looks

    # WHEN the tab is hidden, it asks nothing, and a run submitted meanwhile waits for it to be seen
    page.evaluate("""() => { window.hidden = true;
        Object.defineProperty(document, 'visibilityState',
                              {configurable: true, get: () => window.hidden ? 'hidden' : 'visible'});
        document.dispatchEvent(new Event('visibilitychange')); }""")
    page.wait_for_timeout(1000)  # a check under way when it was hidden has ended
    hidden_at = time.monotonic()
    fourth = submit("live-b")
    page.wait_for_timeout(7000)
    assert [u for t, m, u in desktop.requests if t > hidden_at and u.endswith("/experiments")] == []
    assert rows_of(fourth).count() == 0
    # THEN shown again, it looks at once and lists the run
    page.evaluate("() => { window.hidden = false; document.dispatchEvent(new Event('visibilitychange')); }")
    expect(rows_of(fourth)).to_have_count(1, timeout=5_000)
    assert page.evaluate("window.stayed === true")
