"""The functions of an app, read once from `FunctionApp.get_functions()`, and how to call one.

The Python worker binds arguments by parameter name: the trigger's `name`, plus
`context` for the invocation context. Sync functions run in a thread pool and
async ones on an event loop, as the worker does
(https://learn.microsoft.com/azure/azure-functions/python-scale-performance-reference#async).
"""

from __future__ import annotations

import asyncio
import enum
import inspect
import logging
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import azure.functions as func

log = logging.getLogger("pipelines.devhost")

# Trigger types the development host can drive.
HTTP = "httpTrigger"
QUEUE = "queueTrigger"
TIMER = "timerTrigger"
EVENT_GRID = "eventGridTrigger"
SUPPORTED_TRIGGERS = (HTTP, QUEUE, TIMER, EVENT_GRID)

ROOT = Path(__file__).resolve().parents[2]


class UnsupportedFunctionError(ValueError):
    """A function uses a trigger or binding the development host cannot provide."""


def _plain(value: Any) -> Any:
    """Binding dicts carry enums (`HttpMethod.GET`); the host sees their wire values."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


@dataclass(frozen=True)
class FunctionEntry:
    """One function of the app, as the host indexes it."""

    name: str
    trigger_type: str
    trigger: Mapping[str, Any]  # the trigger binding, with plain (wire) values
    function: Callable[..., Any]
    arg_name: str
    context_arg: str | None = None
    is_async: bool = False

    def setting(self, key: str) -> Any:
        """A trigger attribute by its binding key (`queueName`, `route`, ...)."""
        return self.trigger.get(key)


def _context_parameter(function: Callable[..., Any], arg_name: str, name: str) -> str | None:
    """Check every parameter can be bound; return the one that takes the context, if any."""
    context_arg = None
    for parameter in inspect.signature(function).parameters.values():
        if parameter.name == arg_name:
            continue
        annotation = parameter.annotation
        if parameter.name == "context" or annotation is func.Context or annotation == "func.Context":
            context_arg = parameter.name
        elif parameter.default is inspect.Parameter.empty and parameter.kind not in (
            inspect.Parameter.VAR_POSITIONAL,
            inspect.Parameter.VAR_KEYWORD,
        ):
            raise UnsupportedFunctionError(
                f"function {name!r}: parameter {parameter.name!r} is bound to nothing the "
                "development host provides (only the trigger and `context` are)"
            )
    return context_arg


# `FunctionApp.get_functions()` works once per app: it records every name it
# returns and refuses them all on a second call ("does not have a unique function
# name"), because the worker indexes an app only once. Several hosts may run the
# same app one after another (a test fixture does), so its answer is kept.
_indexed: weakref.WeakKeyDictionary[func.FunctionApp, list[func.Function]] = weakref.WeakKeyDictionary()
_indexed_lock = threading.Lock()


def app_functions(app: func.FunctionApp) -> list[func.Function]:
    """`app.get_functions()`, called once per app; functions registered later are not seen."""
    with _indexed_lock:
        if app not in _indexed:
            _indexed[app] = list(app.get_functions())
        return _indexed[app]


def index_functions(app: func.FunctionApp) -> tuple[list[FunctionEntry], list[str]]:
    """The app's functions the host can run, and one reason per function it skips."""
    entries: list[FunctionEntry] = []
    skipped: list[str] = []
    for function in app_functions(app):
        name = str(function.get_function_name())
        trigger = function.get_trigger()
        if trigger is None:  # get_functions() already refuses this; typed as optional
            skipped.append(f"function {name!r}: no trigger")
            continue
        trigger_dict = _plain(trigger.get_dict_repr())
        trigger_type = str(trigger_dict.get("type"))
        try:
            if trigger_type not in SUPPORTED_TRIGGERS:
                raise UnsupportedFunctionError(f"function {name!r}: trigger {trigger_type} is not supported")
            for binding in function.get_bindings():
                binding_dict = _plain(binding.get_dict_repr())
                if binding is trigger:
                    continue
                # The HTTP answer is the function's return value: nothing to bind.
                if binding_dict.get("type") == "http" and binding_dict.get("name") == "$return":
                    continue
                raise UnsupportedFunctionError(
                    f"function {name!r}: binding {binding_dict.get('type')} "
                    f"{binding_dict.get('name')!r} is not supported"
                )
            user_function = function.get_user_function()
            arg_name = str(trigger_dict["name"])
            context_arg = _context_parameter(user_function, arg_name, name)
        except UnsupportedFunctionError as exc:
            skipped.append(str(exc))
            continue
        entries.append(
            FunctionEntry(
                name=name,
                trigger_type=trigger_type,
                trigger=trigger_dict,
                function=user_function,
                arg_name=arg_name,
                context_arg=context_arg,
                is_async=inspect.iscoroutinefunction(user_function),
            )
        )
    return entries, skipped


# -- invocation ------------------------------------------------------------------------------
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

    def __init__(self, function_name: str) -> None:
        self._invocation_id = str(uuid.uuid4())
        self._function_name = function_name
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
        return str(ROOT)

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


def _arguments(entry: FunctionEntry, trigger_value: Any, context: InvocationContext) -> dict[str, Any]:
    arguments = {entry.arg_name: trigger_value}
    if entry.context_arg:
        arguments[entry.context_arg] = context
    return arguments


def _finish(entry: FunctionEntry, context: InvocationContext, started: float, outcome: Outcome) -> Outcome:
    outcome.duration_ms = (time.perf_counter() - started) * 1000
    outcome.invocation_id = context.invocation_id
    state = "Succeeded" if outcome.succeeded else "Failed"
    if outcome.error is not None:
        # The traceback goes to the log (as the host's does), never into an answer.
        log.error(
            "Executed '%s' (%s, %s, Id=%s, Duration=%.0fms)",
            entry.name,
            entry.trigger_type,
            state,
            context.invocation_id,
            outcome.duration_ms,
            exc_info=outcome.error,
        )
    else:
        log.info(
            "Executed '%s' (%s, %s, Id=%s, Duration=%.0fms)",
            entry.name,
            entry.trigger_type,
            state,
            context.invocation_id,
            outcome.duration_ms,
        )
    return outcome


def invoke_blocking(entry: FunctionEntry, trigger_value: Any) -> Outcome:
    """Run one invocation in the calling thread (async functions get their own loop)."""
    context = InvocationContext(entry.name)
    started = time.perf_counter()
    try:
        result = entry.function(**_arguments(entry, trigger_value, context))
        if inspect.isawaitable(result):
            result = asyncio.run(_await(result))
        outcome = Outcome(entry.name, True, value=result)
    except Exception as exc:  # noqa: BLE001 - a failing function is an outcome, not a host crash
        outcome = Outcome(entry.name, False, error=exc)
    return _finish(entry, context, started, outcome)


async def _await(awaitable: Any) -> Any:
    return await awaitable


async def invoke_async(entry: FunctionEntry, trigger_value: Any, executor: Executor) -> Outcome:
    """Run one invocation from the server's event loop: sync functions go to `executor`."""
    if not entry.is_async:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(executor, invoke_blocking, entry, trigger_value)
    context = InvocationContext(entry.name)
    started = time.perf_counter()
    try:
        value = await entry.function(**_arguments(entry, trigger_value, context))
        outcome = Outcome(entry.name, True, value=value)
    except Exception as exc:  # noqa: BLE001 - see invoke_blocking
        outcome = Outcome(entry.name, False, error=exc)
    return _finish(entry, context, started, outcome)
