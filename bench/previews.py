"""Previews of two proposed fixes, applied only inside the bench's host process.

Neither is the shipped behaviour; both are off unless asked for
(`--tcp-nodelay`, `--chain-steps`), so the default figures are the code as it is.
Each shows, with measured numbers, what a change outside bench/ would buy.
"""

from __future__ import annotations

import socket
import types
from collections.abc import Callable
from typing import Any

MAX_CHAIN = 100  # more steps than a pipeline may have (99)


def tcp_nodelay() -> None:
    """DevHost's listening socket as an IPPROTO_TCP socket (fix: one line in pipelines/devhost/host.py).

    DevHost binds `socket.socket(AF_INET, SOCK_STREAM)`, whose `proto` is 0.
    asyncio sets TCP_NODELAY on accepted connections only when `proto` is
    IPPROTO_TCP (`asyncio.base_events._set_nodelay`), and uvicorn's h11 protocol
    writes a response's headers and body separately: with Nagle on, the body
    waits for the client's delayed ACK, about 40 ms on every request.
    """
    import pipelines.devhost.host as host_module

    shim = types.ModuleType("socket")
    shim.__dict__.update(socket.__dict__)

    def tcp_socket(family: int = socket.AF_INET, type: int = socket.SOCK_STREAM, proto: int = 0) -> socket.socket:
        return socket.socket(family, type, proto or socket.IPPROTO_TCP)

    shim.socket = tcp_socket  # type: ignore[attr-defined]
    host_module.socket = shim  # type: ignore[attr-defined]


def chain_steps() -> None:
    """After a step completes, the same invocation claims and runs its first queued child.

    The successor's queue message is still sent (by the completion, as now); if
    the poller delivers it while the chain already holds the step, the claim
    finds it taken and the message is a no-op, as a duplicate delivery is today.
    Other children of a fan-out stay with the queue, so parallel branches still
    spread over workers. A crash mid-chain leaves a Running step with a lease
    that expires; the sweeper queues it again, as for any dead worker.

    This preview reloads the run partition to find the child (one extra query);
    the real change would take it from the completion's own transition.
    """
    from pipelines.runs.model import StepMessage, TaskStatus
    from pipelines.runs.repository import RunRepository
    from pipelines.store import StorageAccount
    from pipelines.worker import handler

    original: Callable[[StorageAccount, dict[str, Any]], str] = vars(handler)["handle_step_message"]

    def handle_and_chain(account: StorageAccount, payload: dict[str, Any]) -> str:
        result: str = original(account, payload)
        message = StepMessage.from_payload(payload)
        for _ in range(MAX_CHAIN):
            state = RunRepository(account).load(message.workspace, message.run_id)
            if state.run.status.terminal:
                break
            ready = [s for s in state.children(message.node_id) if s.status is TaskStatus.QUEUED]
            if not ready:
                break
            message = StepMessage(message.workspace, message.run_id, ready[0].node_id, ready[0].attempt)
            result = original(account, message.to_payload())
        return result

    vars(handler)["handle_step_message"] = handle_and_chain  # the name run_step imports on each call
