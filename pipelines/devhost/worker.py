"""The Python worker's side of every invocation: one thread pool for sync functions, one loop for async ones.

The real worker (azure-functions-python-worker 4.x,
`azure_functions_worker/dispatcher.py`, `_handle__invocation_request`) awaits an
async function on its event loop and runs every sync one with
`loop.run_in_executor(self._sync_call_tp, ...)`: a single `ThreadPoolExecutor`
shared by all the app's functions, whatever their trigger. An HTTP request, a
queue message the host has fetched or a timer that fired waits for a free thread
there, and the host counts that wait as part of the invocation (a fetched queue
message stays invisible and counts against `batchSize`/`newBatchThreshold`).

The pool's size (`Dispatcher._get_sync_tp_max_workers`, the same in
`runtimes/v2/azure_functions_runtime/utils/threadpool.py` for Python 3.13+):
`PYTHON_THREADPOOL_THREAD_COUNT` when it is an integer of at least 1, otherwise
`max_workers=None`, so Python's own default: `min(32, os.cpu_count() + 4)`
(3.8-3.12; `os.process_cpu_count()` from 3.13). A malformed value is logged and
ignored, as the worker does.

Mind where the worker starts: the Functions host (`DefaultWorkerProcessFactory.
ApplyWorkerConcurrencyLimits`, azure-functions-host 4.x) puts
`PYTHON_THREADPOOL_THREAD_COUNT=1000` in the worker's environment when the app
settings have none, so under `func start` and on dedicated plans the pool is 1000
threads. On Consumption and Flex Consumption the worker starts as a placeholder and
is specialised with a `FunctionEnvironmentReloadRequest` that replaces its
environment with the app settings and rebuilds the pool without the host's value:
`min(32, cpus + 4)` there. This host sizes the pool as the specialised worker does,
the smaller of the two, so starvation shows here before it shows in Azure.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any

import azure.functions as func

from pipelines.devhost.azurite import ROOT
from pipelines.devhost.functions import FunctionEntry
from pipelines.devhost.outputs import OutputBinder, OutValue

log = logging.getLogger("pipelines.devhost")

THREAD_COUNT_SETTING = "PYTHON_THREADPOOL_THREAD_COUNT"
POOL_THREAD_PREFIX = "devhost-worker"
LOOP_THREAD_NAME = "devhost-worker-loop"


def _cpu_count() -> int:
    # Python 3.13 sizes a default ThreadPoolExecutor with process_cpu_count (the CPUs it may use).
    counter: Callable[[], int | None] = getattr(os, "process_cpu_count", os.cpu_count)
    return counter() or 1


def sync_thread_count(environ: Mapping[str, str] | None = None, cpu_count: int | None = None) -> int:
    """The size of the worker's sync pool for these app settings, as the worker computes it."""
    settings = os.environ if environ is None else environ
    value = settings.get(THREAD_COUNT_SETTING)
    if value is not None:
        try:
            count = int(value)
        except ValueError:
            log.warning("%s must be an integer: %r ignored", THREAD_COUNT_SETTING, value)
        else:
            if count >= 1:
                return count
            log.warning("%s must be at least 1: %r ignored", THREAD_COUNT_SETTING, value)
    return min(32, (cpu_count if cpu_count is not None else _cpu_count()) + 4)


# -- the invocation context ------------------------------------------------------------------
class _TraceContext:
    """Duck-typed like the worker's: azure.functions exports no concrete one."""

    def __init__(self) -> None:
        self._parent = f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-00"

    @property
    def trace_state(self) -> str:
        return ""

    @property
    def trace_parent(self) -> str:
        return self._parent

    @property
    def attributes(self) -> dict[str, str]:
        return {}


class _RetryContext:
    @property
    def retry_count(self) -> int:
        return 0

    @property
    def max_retry_count(self) -> int:
        return 0

    @property
    def exception(self) -> None:
        return None


class InvocationContext(func.Context):
    """The `context` argument: what the worker's own context carries."""

    def __init__(self, function_name: str, function_directory: str) -> None:
        self._invocation_id = str(uuid.uuid4())
        self._function_name = function_name
        self._function_directory = function_directory
        self._local = threading.local()
        self._local.invocation_id = self._invocation_id
        self._trace = _TraceContext()
        self._retry = _RetryContext()

    @property
    def invocation_id(self) -> str:
        return self._invocation_id

    @property
    def thread_local_storage(self) -> threading.local:  # type: ignore[override]
        return self._local

    @property
    def function_name(self) -> str:
        return self._function_name

    @property
    def function_directory(self) -> str:
        return self._function_directory

    @property
    def trace_context(self) -> _TraceContext:  # type: ignore[override]
        return self._trace

    @property
    def retry_context(self) -> _RetryContext:  # type: ignore[override]
        return self._retry


@dataclass
class Outcome:
    """What one invocation did: its return value, or the exception it raised."""

    function: str
    succeeded: bool
    value: Any = None
    error: BaseException | None = None
    duration_ms: float = 0.0
    invocation_id: str = field(default="")
    # Never ran: the worker stopped before a thread (or the loop) took it.
    cancelled: bool = False


def _function_directory() -> str:
    # The app's folder, where function_app.py and host.json live.
    return os.environ.get("AzureWebJobsScriptRoot") or str(ROOT)


def _arguments(
    entry: FunctionEntry, trigger_value: Any, context: InvocationContext, outputs: dict[str, OutValue]
) -> dict[str, Any]:
    arguments = {entry.arg_name: trigger_value, **outputs}
    if entry.requires_context:
        arguments["context"] = context
    return arguments


def _check_return(entry: FunctionEntry, value: Any) -> None:
    # The worker fails an invocation that returns a value without a `$return` binding.
    if value is not None and not entry.has_return:
        raise RuntimeError(f"function {entry.name!r} without a $return binding returned a non-None value")


def _finish(entry: FunctionEntry, context: InvocationContext, started: float, outcome: Outcome) -> Outcome:
    outcome.duration_ms = (time.perf_counter() - started) * 1000
    outcome.invocation_id = context.invocation_id
    state = "Succeeded" if outcome.succeeded else "Failed"
    # The host's own wording; the traceback goes to the log, never into an answer.
    log.log(
        logging.INFO if outcome.succeeded else logging.ERROR,
        "Executed 'Functions.%s' (%s, Id=%s, Duration=%.0fms)",
        entry.name,
        state,
        context.invocation_id,
        outcome.duration_ms,
        exc_info=outcome.error,
    )
    return outcome


def run_sync(entry: FunctionEntry, trigger_value: Any, binder: OutputBinder | None = None) -> Outcome:
    """One sync invocation, in the calling thread (a thread of the worker's pool); then the
    host writes its output bindings (a failure to write fails the invocation)."""
    context = InvocationContext(entry.name, _function_directory())
    started = time.perf_counter()
    outputs = {output.name: OutValue() for output in entry.outputs}
    try:
        value = entry.function(**_arguments(entry, trigger_value, context, outputs))
        _check_return(entry, value)
        if binder is not None:
            binder.write(entry.name, entry.outputs, outputs)
        outcome = Outcome(entry.name, True, value=value)
    except Exception as exc:  # noqa: BLE001 - a failing function is an outcome, not a host crash
        outcome = Outcome(entry.name, False, error=exc)
    return _finish(entry, context, started, outcome)


async def run_async(entry: FunctionEntry, trigger_value: Any, binder: OutputBinder | None = None) -> Outcome:
    """One async invocation, awaited on the worker's event loop; then its output bindings."""
    context = InvocationContext(entry.name, _function_directory())
    started = time.perf_counter()
    outputs = {output.name: OutValue() for output in entry.outputs}
    try:
        value = await entry.function(**_arguments(entry, trigger_value, context, outputs))
        _check_return(entry, value)
        if binder is not None and entry.outputs:
            await asyncio.to_thread(binder.write, entry.name, entry.outputs, outputs)
        outcome = Outcome(entry.name, True, value=value)
    except Exception as exc:  # noqa: BLE001 - see run_sync
        outcome = Outcome(entry.name, False, error=exc)
    return _finish(entry, context, started, outcome)


def _cancelled(entry: FunctionEntry) -> Outcome:
    return Outcome(entry.name, False, error=RuntimeError("the worker stopped first"), cancelled=True)


# -- the worker ------------------------------------------------------------------------------
class Worker:
    """The worker's pool and event loop; `submit` is what the host's `InvocationRequest` does."""

    def __init__(self, max_workers: int | None = None, binder: OutputBinder | None = None) -> None:
        self.max_workers = sync_thread_count() if max_workers is None else max_workers
        self.binder = binder  # the host's side: writes what functions set on their output bindings
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: threading.Thread | None = None

    def start(self) -> None:
        self._pool = concurrent.futures.ThreadPoolExecutor(
            self.max_workers, thread_name_prefix=POOL_THREAD_PREFIX
        )
        loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run_loop() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(ready.set)
            loop.run_forever()
            # Stopping: async invocations still pending are cancelled, so no caller waits forever.
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()

        self._loop = loop
        self._loop_thread = threading.Thread(target=run_loop, name=LOOP_THREAD_NAME, daemon=True)
        self._loop_thread.start()
        ready.wait(5)
        log.info("worker: %d threads for sync functions (%s)", self.max_workers, THREAD_COUNT_SETTING)

    def stop(self, *, wait: bool, timeout: float = 5.0) -> None:
        """Stop taking invocations; invocations not yet started are cancelled."""
        if self._pool is not None:
            self._pool.shutdown(wait=wait, cancel_futures=True)
            self._pool = None
        loop, thread = self._loop, self._loop_thread
        self._loop = self._loop_thread = None
        if loop is not None and thread is not None:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout)

    def submit(self, entry: FunctionEntry, trigger_value: Any) -> concurrent.futures.Future[Outcome]:
        """Queue one invocation; the future ends with its `Outcome` (cancelled if the worker stops)."""
        pool, loop = self._pool, self._loop
        try:
            if entry.is_async and loop is not None:
                coroutine: Coroutine[Any, Any, Outcome] = run_async(entry, trigger_value, self.binder)
                try:
                    return asyncio.run_coroutine_threadsafe(coroutine, loop)
                except RuntimeError:  # the loop is closed
                    coroutine.close()
                    raise
            if pool is not None and not entry.is_async:
                return pool.submit(run_sync, entry, trigger_value, self.binder)
        except RuntimeError:  # the pool is shutting down
            pass
        stopped: concurrent.futures.Future[Outcome] = concurrent.futures.Future()
        stopped.cancel()
        return stopped

    def invoke(self, entry: FunctionEntry, trigger_value: Any) -> Outcome:
        """Submit and wait, from a host thread (queue and timer triggers)."""
        try:
            return self.submit(entry, trigger_value).result()
        except concurrent.futures.CancelledError:
            return _cancelled(entry)

    async def invoke_async(self, entry: FunctionEntry, trigger_value: Any) -> Outcome:
        """Submit and await, from the HTTP server's event loop."""
        try:
            return await asyncio.wrap_future(self.submit(entry, trigger_value))
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # the request itself was cancelled, not the invocation
            return _cancelled(entry)
