"""Execute one claimed step: stage code and inputs, run the script, keep its outputs.

The step's folder on the worker's disk:

    {work}/steps/{run}/{node}/{attempt}-{claim}/
        code/          a copy of the code snapshot: the script's working directory
        inputs/{name}  upstream outputs and data, downloaded (or written from the upstream
                       step's row, where its outputs were small enough to be kept)
        outputs/{name} folders the script writes; uploaded when it exits 0 (or, when all
                       of them are small, kept on the step's row by its commit)
        context.json   what `pipelines.runtime.Run.get_context()` reads
        metrics.jsonl  what `run.log(...)` appends

The folder is removed once the next step's process has started (or the
invocation ends), by the process's remover thread (`pipelines/worker/remover.py`),
so its removal is neither part of the turnover nor of the invocation; the
snapshot cache stays.
A finished step's outputs folder is kept instead, under `{work}/kept/`, until
the invocation ends or its next step finishes: when the worker runs the
step's successor itself (the commit that recorded the step claimed it), the
successor's inputs are copied from there rather than downloaded again. Only
the files that were uploaded are copied, after the upload was confirmed and
recorded, so what the successor reads is what storage holds.

Log writes go behind the step (`pipelines/worker/logflush.py`); an attempt's logs that
are small go with its outcome instead (`Outcome.logs`), onto the step's row.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipelines.authoring.coercion import format_parameter
from pipelines.authoring.definition import (
    InputArg,
    InputSpec,
    LiteralArg,
    OutputArg,
    ParameterArg,
    PipelineDefinition,
    StepSpec,
)
from pipelines.catalogue import PublishedPipelines
from pipelines.data.references import DataError, References
from pipelines.data.staging import DataStager
from pipelines.runs.data import input_value
from pipelines.runs.engine import Outcome
from pipelines.runs.logs import StepLogs, output_prefix
from pipelines.runs.model import InlineOutputs, OutputSummary, Run, TaskStatus
from pipelines.runs.outputs import source_prefix
from pipelines.runtime.context import StagedInput, StepContext, StepInfo
from pipelines.settings import Settings
from pipelines.store import StorageAccount
from pipelines.worker import remover
from pipelines.worker.logflush import DRAIN_SECONDS, BehindSink, LogFlusher
from pipelines.worker.process import HeldChild, ProcessResult, hold_step, run_step
from pipelines.worker.snapshots import SnapshotCache
from pipelines.worker.transfer import KeptOutputs, download_prefix, read_small, upload_folder, write_files

log = logging.getLogger("pipelines.worker")

PACKAGE_ROOT = Path(__file__).resolve().parents[2]
MAX_METRICS_CHARS = 30_000
DETAIL_TAIL_CHARS = 1000
WITHHELD_FROM_STEPS = (
    "AzureWebJobs", "PIPELINES_AUTH_", "IDENTITY_ENDPOINT", "IDENTITY_HEADER", "MSI_ENDPOINT", "MSI_SECRET",
    "WEBSITE_AUTH_", "CONTAINER_ENCRYPTION_KEY", "APPSETTING_AzureWebJobs",
)


class StagingError(Exception):
    """An input could not be staged: the step fails without running."""


def effective_timeout(step: StepSpec, settings: Settings) -> int:
    """The step's own timeout or the default, never over the cap under functionTimeout."""
    return min(step.timeout_seconds or settings.step_timeout_seconds, settings.max_step_timeout_seconds)


def _discard(folder: Path, staged: Future[Staged | None]) -> None:
    """A folder staged ahead for nothing: its child on hold killed (it ran nothing), the folder removed."""
    if not staged.cancelled() and staged.exception() is None:
        made = staged.result()
        if made is not None and made.held is not None:
            made.held.release()
    remover.shared().remove(folder)


def work_root(account: StorageAccount) -> Path:
    configured = account.settings.work_dir
    return Path(configured) if configured else Path(tempfile.gettempdir()) / "pipelines-worker"


@dataclass
class StepJob:
    run: Run
    definition: PipelineDefinition
    step: StepSpec
    attempt: int
    claim: str
    # Upstream steps' outputs kept on their rows (`InlineOutputs`), by node id: what staging
    # writes for them instead of downloading.
    inline: Mapping[str, InlineOutputs] = field(default_factory=dict)
    # How many bytes of this attempt's logs its step's row may still keep (`INLINE_LOG_BYTES`
    # less what it keeps of earlier attempts); 0: they go to Blob storage.
    log_room: int = 0

    @property
    def key(self) -> tuple[str, str, int, str]:
        return self.run.id, self.step.id, self.attempt, self.claim


@dataclass
class Staged:
    """A claimed step's folder, ready for its script: code, inputs, output folders, context."""

    code: Path
    outputs: dict[str, Path]
    arguments: list[str]
    env: dict[str, str]
    # The script's child, forked on hold while the commit that claims the step runs
    # (`Executor.stage_ahead`); let go when the step runs, killed if it never does.
    held: HeldChild | None = None


class Executor:
    def __init__(self, account: StorageAccount, pipelines: PublishedPipelines | None = None) -> None:
        self.account = account
        self.pipelines = pipelines or PublishedPipelines(account)
        self.runs_container = account.container("runs")
        self.logs = StepLogs(account)
        self.snapshots = SnapshotCache(work_root(account) / "snapshots", self.pipelines)
        self.flusher = LogFlusher()
        self.kept: KeptOutputs | None = None
        self._uploaded: dict[str, tuple[str, ...]] = {}
        self._trash: list[Path] = []  # step folders of this invocation, to remove
        # Steps staged beside the commit that claims them (`expect`), by job.
        self._ahead: dict[tuple[str, str, int, str], Future[Staged | None]] = {}

    def close(self, log_timeout: float = DRAIN_SECONDS) -> None:
        """The end of the invocation: logs written (waited for at most `log_timeout`), kept
        outputs and folders staged for nothing removed."""
        self.flusher.close(log_timeout)
        self._drop_ahead()
        self._forget_kept()
        self._empty_trash()

    def expect(self, key: tuple[str, str, int, str], staged: Future[Staged | None]) -> None:
        """The job of `key` (`StepJob.key`) is being staged (`stage_ahead`, on another thread,
        while the commit that will claim it runs; None: it was not, after all): `execute`
        takes that folder if it runs this very job, else it is removed."""
        self._drop_ahead()
        self._ahead[key] = staged

    def _drop_ahead(self) -> None:
        ahead, self._ahead = self._ahead, {}
        for key, staged in ahead.items():
            # Removed once made (a folder still being made is let finish, on its own thread).
            staged.add_done_callback(functools.partial(_discard, self._folder(*key)))

    def _folder(self, run_id: str, node_id: str, attempt: int, claim: str) -> Path:
        return work_root(self.account) / "steps" / run_id / node_id / f"{attempt}-{claim[:8]}"

    def _forget_kept(self) -> None:
        """Drop the outputs kept before; their folder goes with the next removals (off the turnover)."""
        kept, self.kept = self.kept, None
        if kept is not None:
            self._trash.append(kept.root)

    def execute(
        self,
        job: StepJob,
        should_stop: Callable[[], str | None],
        exited: Callable[[int], bool] = lambda exit_code: True,
    ) -> Outcome | None:
        """Run the step; None when the lease was lost (another worker owns it now).

        `exited(0)` is called right before outputs are uploaded: it records on
        the attempt that the script exited 0 (so a worker lost from here on
        leaves a record saying the script finished) and answers whether the
        step is still ours: a worker that lost its lease must not overwrite
        what the step's new owner writes.
        """
        step = job.step
        folder = self._folder(*job.key)
        ahead = self._ahead.pop(job.key, None)
        self._drop_ahead()
        stdout, stderr = self._sink(job, "STDOUT"), self._sink(job, "STDERR")
        self._uploaded = {}
        staged: Staged | None = None
        try:
            staged = ahead.result() if ahead is not None else None
            if staged is None:
                staged = self.stage(job)
            timeout = effective_timeout(step, self.account.settings)
            # From the script's exit to its successor's start, log writes wait (logflush.py), from
            # the end of its output on, which comes with the exit: small logs are taken for the
            # step's row meanwhile (`_take_logs`).
            result = run_step(
                step.script_name,
                staged.arguments,
                fresh_interpreter=step.fresh_interpreter,
                cwd=str(staged.code),
                env=staged.env,
                timeout=timeout,
                stdout=stdout,
                stderr=stderr,
                should_stop=should_stop,
                on_start=self._started,
                on_end=self.flusher.hold,
                held=staged.held,
            )
            self.flusher.hold()
            for sink in (stdout, stderr):
                sink.close()  # the step's logs are whole: they go up after the turnover
            metrics = self._metrics(folder / "metrics.jsonl")
            if result.stopped == "lease lost":
                return None  # its logs go to Blob storage: no commit of this worker will carry them
            logs = self._take_logs(job, (stdout, stderr))
            try:
                outcome = self._outcome(job, result, timeout, metrics, staged, exited)
            except BaseException:
                self.give_back_logs(job.run, job.step.id, job.attempt, logs)
                raise
            if outcome is None:  # the lease was lost after the exit: no commit of ours carries them
                self.give_back_logs(job.run, job.step.id, job.attempt, logs)
                return None
            return dataclasses.replace(outcome, logs=logs)
        except StagingError as exc:
            return Outcome(TaskStatus.FAILED, f"could not stage the step: {exc}", None, retryable=False)
        finally:
            if staged is not None and staged.held is not None:
                staged.held.release()  # a no-op once let go
            for sink in (stdout, stderr):
                sink.close()
            self._trash.append(folder)  # removed once the next step has started, off its turnover

    def _outcome(
        self, job: StepJob, result: ProcessResult, timeout: int, metrics: dict[str, Any], staged: Staged,
        exited: Callable[[int], bool],
    ) -> Outcome | None:
        """How the script's run ended; a script that exited 0 has its outputs uploaded first (or
        kept for the row). None when the lease turned out lost after the exit."""
        if result.stopped == "canceled":
            return Outcome(TaskStatus.CANCELED, "canceled while running", result.exit_code, metrics)
        if result.timed_out:
            return Outcome(TaskStatus.FAILED, f"timed out after {timeout}s", result.exit_code, metrics)
        if result.exit_code != 0:
            tail = result.stderr_tail.strip()[-DETAIL_TAIL_CHARS:]
            detail = f"exit code {result.exit_code}" + (f": {tail}" if tail else ", nothing on stderr")
            return Outcome(TaskStatus.FAILED, detail, result.exit_code, metrics)
        if not exited(0):
            return None
        summaries, inline = self._upload_outputs(job, staged.outputs)
        self._keep(job, self._folder(*job.key))
        return Outcome(
            TaskStatus.FINISHED, None, 0, metrics, tuple(sorted(summaries)), summaries=summaries, inline=inline)

    def stage_ahead(self, job: StepJob) -> Staged:
        """`stage`, and the script's child forked on hold in the folder (`hold_step`): staged
        while the commit that will claim the step runs (`expect`), so the fork is off the
        hand-off. Nothing of the script runs until `execute` lets the child go."""
        staged = self.stage(job)
        try:
            staged.held = hold_step(job.step.script_name, staged.arguments, cwd=str(staged.code), env=staged.env,
                                    fresh_interpreter=job.step.fresh_interpreter)
        except OSError:  # no pipe to be had: the step is forked when it runs, as without this
            log.warning("step %s could not be forked ahead", job.step.id, exc_info=True)
        return staged

    def stage(self, job: StepJob) -> Staged:
        """Make the step's folder: its code, its inputs, a folder per output, its context."""
        folder = self._folder(*job.key)
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        code = folder / "code"
        shutil.copytree(self.snapshots.path(job.run.workspace, job.step.snapshot), code)
        inputs, data = self._stage_inputs(job, folder / "inputs")
        outputs = {o.name: folder / "outputs" / o.name for o in job.step.outputs}
        for path in outputs.values():
            path.mkdir(parents=True)
        self._context(job, inputs, data, outputs, folder).write(folder / "context.json")
        return Staged(code, outputs, self._arguments(job, inputs, outputs), self._environment(folder))

    def _take_logs(self, job: StepJob, sinks: tuple[BehindSink, BehindSink]) -> dict[str, bytes]:
        """The attempt's logs, by kind, taken from the flusher for the step's row when nothing of
        them was written and they fit in `job.log_room`; else none (they stay in the flusher).
        A step nothing depends on leaves the rest to go at once (its run may be ending)."""
        taken: dict[str, bytes] = {}
        for kind, sink in zip(("STDOUT", "STDERR"), sinks, strict=True):
            if not sink.written:
                continue
            data = self.flusher.take(sink.writer)
            if data is None:
                self.give_back_logs(job.run, job.step.id, job.attempt, taken)
                taken = {}
                break
            taken[kind] = data
        if sum(len(data) for data in taken.values()) > job.log_room:
            self.give_back_logs(job.run, job.step.id, job.attempt, taken)
            taken = {}
        if not any(edge.from_step == job.step.id for edge in job.definition.edges):
            self.flusher.release()
        return taken

    def give_back_logs(self, run: Run, node_id: str, attempt: int, logs: dict[str, bytes]) -> None:
        """Logs taken for the step's row that its row will not keep: written to Blob storage."""
        for kind, data in logs.items():
            self.flusher.give_back(self.logs.writer(run.workspace, run.id, node_id, attempt, kind), data)

    def _started(self) -> None:
        """A step's process runs: what waited for the turnover to end goes on."""
        self.flusher.release()
        self._empty_trash()

    def _empty_trash(self) -> None:
        trash, self._trash = self._trash, []
        remover.shared().remove(*trash)

    def _sink(self, job: StepJob, kind: str) -> BehindSink:
        run = job.run
        return self.flusher.sink(self.logs.writer(run.workspace, run.id, job.step.id, job.attempt, kind))

    def _keep(self, job: StepJob, folder: Path) -> None:
        """Keep the step's uploaded outputs for a successor this worker may run next (the
        outputs kept before are dropped: a long chain holds one step's outputs at a time)."""
        self._forget_kept()
        root = work_root(self.account) / "kept" / f"{job.run.id}-{job.step.id}-{job.claim[:8]}"
        shutil.rmtree(root, ignore_errors=True)
        root.parent.mkdir(parents=True, exist_ok=True)
        try:
            (folder / "outputs").rename(root)
        except OSError:
            return  # nothing kept: a successor downloads its inputs
        self.kept = KeptOutputs(job.run.id, job.step.id, root, dict(self._uploaded))

    # -- arguments and context ------------------------------------------------------------------
    def _arguments(self, job: StepJob, inputs: dict[str, Path], outputs: dict[str, Path]) -> list[str]:
        specs = {p.name: p for p in job.definition.parameters}
        argv: list[str] = []
        for arg in job.step.arguments:
            if isinstance(arg, LiteralArg):
                argv.append(arg.value)
            elif isinstance(arg, ParameterArg):
                spec = specs[arg.name]
                argv.append(format_parameter(spec, job.run.parameters.get(arg.name, spec.default)))
            elif isinstance(arg, InputArg):
                argv.append(str(inputs[arg.name]))
            elif isinstance(arg, OutputArg):
                argv.append(str(outputs[arg.name]))
        return argv

    def _context(
        self, job: StepJob, inputs: dict[str, Path], data: dict[str, StagedInput], outputs: dict[str, Path],
        folder: Path,
    ) -> StepContext:
        return StepContext(
            run_id=job.run.id,
            workspace=job.run.workspace,
            experiment_name=job.run.experiment_name,
            pipeline_id=job.run.pipeline_id,
            step=StepInfo(job.step.id, job.step.name, job.attempt),
            parameters=job.run.parameters,
            inputs={name: str(path) for name, path in inputs.items()},
            outputs={name: str(path) for name, path in outputs.items()},
            input_datasets=data,
            metrics_path=str(folder / "metrics.jsonl"),
            tags=job.run.tags,
        )

    def _environment(self, folder: Path) -> dict[str, str]:
        env = dict(os.environ)
        # The step imports `pipelines.runtime`; nothing else of the worker leaks in.
        paths = [str(PACKAGE_ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
        env["PYTHONPATH"] = os.pathsep.join(paths)
        env["PIPELINES_STEP_CONTEXT"] = str(folder / "context.json")
        env["PYTHONUNBUFFERED"] = "1"
        # A step script gets no storage connection, auth settings or managed
        # identity endpoint of the app: the worker stages its data for it.
        for name in [k for k in env if k.startswith(WITHHELD_FROM_STEPS)]:
            env.pop(name)
        return env

    # -- inputs and outputs ------------------------------------------------------------------------
    def _stage_inputs(self, job: StepJob, root: Path) -> tuple[dict[str, Path], dict[str, StagedInput]]:
        """Every input on local disk: its path, and for data inputs what staging put there
        (by consumption name: what `Run.input_datasets` lists)."""
        paths: dict[str, Path] = {}
        data: dict[str, StagedInput] = {}
        for spec in job.step.inputs:
            target = root / spec.name
            target.mkdir(parents=True)
            if spec.kind == "step_output":
                self._stage_output(job, spec.source_step or "", spec.source_output or "", target)
                paths[spec.name] = target
            else:
                data[spec.name] = self._stage_data(job, spec, target)
                paths[spec.name] = Path(data[spec.name].path)
        return paths, data

    def _stage_output(self, job: StepJob, source: str, output: str, target: Path) -> None:
        """An upstream step's output into `target`: copied from what this worker kept of it,
        written from the upstream step's row (`StepJob.inline`), or downloaded."""
        if self.kept is not None and self.kept.copy(job.run.id, source, output, target):
            return
        if source in job.inline:
            write_files(job.inline[source].get(output, {}), target)
            return
        # A reused step's outputs are where its earlier run wrote them (pipelines/runs/outputs.py).
        download_prefix(self.runs_container, source_prefix(job.run, source, output), target)

    def _stage_data(self, job: StepJob, spec: InputSpec, target: Path) -> StagedInput:
        try:
            # A default "latest" is the newest version registered when the run was created.
            resolution = References(self.account, job.run.workspace).recorded(
                input_value(job.run, job.definition, spec), as_of=job.run.created
            )
            return DataStager(self.account, job.run.workspace).stage(resolution, target)
        except DataError as exc:
            raise StagingError(f"input {spec.name!r}: {exc}") from None

    def _upload_outputs(
        self, job: StepJob, outputs: dict[str, Path]
    ) -> tuple[dict[str, OutputSummary], InlineOutputs]:
        """Upload each output folder, or keep them all for the step's row when they are small
        (`read_small`); returns what each holds, and the files kept for the row."""
        small = read_small(outputs)
        if small is not None:
            summaries, inline = small
            if job.attempt != 1:
                # An earlier attempt may have uploaded some (one lost during its upload): the row's
                # files are the outputs now, and storage keeps no other.
                for name in outputs:
                    self.runs_container.delete_under(output_prefix(job.run.workspace, job.run.id, job.step.id, name))
            self._uploaded = {name: tuple(files) for name, files in inline.items()}
            return summaries, inline
        summaries = {}
        for name, folder in outputs.items():
            # Only the step's attempts write under its outputs' names, and an attempt uploads
            # once its script has exited 0: the first attempt finds nothing there.
            uploaded = upload_folder(
                self.runs_container, output_prefix(job.run.workspace, job.run.id, job.step.id, name), folder,
                first=job.attempt == 1,
            )
            summaries[name] = uploaded.summary
            self._uploaded[name] = uploaded.files
        return summaries, {}

    @staticmethod
    def _metrics(path: Path) -> dict[str, Any]:
        """`run.log` lines: a name logged once keeps its value, more than once a list."""
        if not path.exists():
            return {}
        values: dict[str, list[Any]] = {}
        for line in path.read_text(errors="replace").splitlines():
            try:
                item = json.loads(line)
                values.setdefault(str(item["name"]), []).append(item["value"])
            except (ValueError, KeyError, TypeError):
                continue
        metrics = {name: items[0] if len(items) == 1 else items for name, items in values.items()}
        if len(json.dumps(metrics, default=str)) > MAX_METRICS_CHARS:
            return {"_truncated": True, "names": sorted(metrics)[:100]}
        return metrics
