"""The functions of an app, read once from `FunctionApp.get_functions()`, checked as the worker checks them.

The Python worker (azure-functions-python-worker 4.x, `functions.Registry`)
binds arguments by parameter name: the trigger's `name`, and a parameter named
exactly `context` for the invocation context. Any other parameter, a trigger
name without a parameter, or a trigger annotation its converter refuses is a
`FunctionLoadError`; in the v2 programming model that fails the indexing of the
whole app (`Dispatcher._handle__functions_metadata_request`), so the host loads
no function at all. The development host refuses to start instead
(`FunctionLoadError`), which says the same thing louder.

Triggers and bindings the development host cannot drive (blob, Service Bus,
output bindings other than `queue`...) are skipped with a warning: the real
host would run them. Queue outputs are written as the host writes them
(`outputs.py`).
"""

from __future__ import annotations

import enum
import inspect
import threading
import typing
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import azure.functions as func
from azure.functions import meta
from azure.functions.decorators.core import BindingDirection

from pipelines.devhost.outputs import QueueOutput

# Trigger types the development host can drive.
HTTP = "httpTrigger"
QUEUE = "queueTrigger"
TIMER = "timerTrigger"
EVENT_GRID = "eventGridTrigger"
SUPPORTED_TRIGGERS = (HTTP, QUEUE, TIMER, EVENT_GRID)
_OUT = BindingDirection.OUT.value


class UnsupportedFunctionError(ValueError):
    """A function uses a trigger or binding the development host cannot provide."""


class FunctionLoadError(RuntimeError):
    """A function the Python worker itself would refuse to load (and with it, the whole app)."""


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
    requires_context: bool = False
    is_async: bool = False
    # An output binding named `$return` (HTTP functions have one): only then may it return a value.
    has_return: bool = False
    outputs: tuple[QueueOutput, ...] = ()

    def setting(self, key: str) -> Any:
        """A trigger attribute by its binding key (`queueName`, `route`, ...)."""
        return self.trigger.get(key)


def _check_parameters(
    function: Callable[..., Any], name: str, arg_name: str, trigger_type: str, outputs: tuple[QueueOutput, ...] = ()
) -> bool:
    """The worker's load-time checks (`Registry.is_context_required`, `validate_function_params`).

    Returns whether the function takes `context`.
    """
    try:
        annotations = typing.get_type_hints(function)
    except Exception as exc:  # noqa: BLE001 - the worker lets this fail the load too
        raise FunctionLoadError(f"function {name!r}: its annotations cannot be resolved ({exc})") from exc
    params = set(inspect.signature(function).parameters)
    requires_context = "context" in params and arg_name != "context"
    if requires_context:
        params.discard("context")
        annotation = annotations.get("context")
        if annotation is not None and not (isinstance(annotation, type) and annotation.__name__ == "Context"):
            raise FunctionLoadError(
                f"function {name!r}: the 'context' parameter is expected to be of type "
                f"azure.functions.Context, got {annotation!r}"
            )
    bound = {arg_name} | {output.name for output in outputs}
    if params - bound:
        raise FunctionLoadError(
            f"function {name!r}: the following parameters are declared in Python but not "
            f"in function.json: {sorted(params - bound)}"
        )
    if bound - params:
        raise FunctionLoadError(
            f"function {name!r}: the following parameters are declared in function.json but "
            f"not in Python: {sorted(bound - params)}"
        )
    for output in outputs:
        _check_output(name, output.name, annotations.get(output.name))
    annotation = annotations.get(arg_name)
    if annotation is not None:
        if not isinstance(annotation, type):
            raise FunctionLoadError(f"function {name!r}: binding {arg_name} has invalid non-type annotation")
        if annotation in (str, bytes):
            # The worker binds these through its "generic" converter (the raw body): not imitated.
            raise UnsupportedFunctionError(
                f"function {name!r}: a {trigger_type} bound as {annotation.__name__} is not supported"
            )
        converter = meta.get_binding_registry().get(trigger_type)
        if converter is not None and not converter.check_input_type_annotation(annotation):
            raise FunctionLoadError(
                f"function {name!r}: type of {arg_name} binding in function.json {trigger_type!r} "
                f"does not match its Python annotation {getattr(annotation, '__name__', annotation)!r}"
            )
    return requires_context


def _check_output(function: str, parameter: str, annotation: Any) -> None:
    """An output parameter is `func.Out[T]` with a T the queue converter can write
    (worker `Registry`: `is_outbinding`, `check_output_type_annotation`)."""
    if annotation is None:
        return
    if typing.get_origin(annotation) is not func.Out:
        raise FunctionLoadError(f"function {function!r}: binding {parameter} is an output: annotate it func.Out[...]")
    (inner,) = typing.get_args(annotation) or (Any,)
    converter = meta.get_binding_registry().get("queue")
    if converter is not None and not converter.check_output_type_annotation(inner):
        raise FunctionLoadError(
            f"function {function!r}: type of {parameter} binding in function.json 'queue' does not match "
            f"its Python annotation {annotation!r}"
        )


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
    """The app's functions the host can run, and one reason per function it skips.

    Raises `FunctionLoadError` for a function the worker would refuse to load.
    """
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
        has_return = False
        outputs: list[QueueOutput] = []
        try:
            if trigger_type not in SUPPORTED_TRIGGERS:
                raise UnsupportedFunctionError(f"function {name!r}: trigger {trigger_type} is not supported")
            for binding in function.get_bindings():
                binding_dict = _plain(binding.get_dict_repr())
                if binding is trigger:
                    continue
                # The HTTP answer is the function's return value: nothing to bind.
                if binding_dict.get("type") == "http" and binding_dict.get("name") == "$return":
                    has_return = True
                    continue
                if binding_dict.get("type") == "queue" and binding_dict.get("direction") == _OUT:
                    outputs.append(QueueOutput(
                        str(binding_dict["name"]), str(binding_dict.get("queueName") or ""),
                        str(binding_dict["connection"]) if binding_dict.get("connection") else None,
                    ))
                    continue
                raise UnsupportedFunctionError(
                    f"function {name!r}: binding {binding_dict.get('type')} "
                    f"{binding_dict.get('name')!r} is not supported"
                )
            user_function = function.get_user_function()
            arg_name = str(trigger_dict["name"])
            requires_context = _check_parameters(user_function, name, arg_name, trigger_type, tuple(outputs))
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
                requires_context=requires_context,
                is_async=inspect.iscoroutinefunction(user_function),
                has_return=has_return,
                outputs=tuple(outputs),
            )
        )
    return entries, skipped
