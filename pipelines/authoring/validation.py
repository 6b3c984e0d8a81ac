"""The one error a pipeline or a definition raises when it does not hold together.

Authors fix pipelines faster when they see every problem at once, so checks
append to a `Problems` list and the caller raises a single
`PipelineValidationError` whose details name the step and the argument.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from pipelines.errors import BadRequestError, ErrorDetail

# Stable codes for the details: clients and tests match on them, not on text.
INVALID_STEP = "InvalidStep"
INVALID_ARGUMENT = "InvalidArgument"
INVALID_INPUT = "InvalidInput"
INVALID_OUTPUT = "InvalidOutput"
INVALID_PARAMETER = "InvalidParameter"
INVALID_GRAPH = "InvalidGraph"
INVALID_SNAPSHOT = "InvalidSnapshot"
INVALID_PIPELINE = "InvalidPipeline"


class PipelineValidationError(BadRequestError):
    """A pipeline (authoring side) or a published definition (server side) is invalid."""

    def __init__(
        self,
        message: str,
        *,
        target: str | None = None,
        details: Sequence[ErrorDetail] = (),
    ) -> None:
        super().__init__(message, target=target, details=details)


class Problems:
    """Collects every problem found, then raises them together."""

    def __init__(self) -> None:
        self._details: list[ErrorDetail] = []

    def add(self, code: str, message: str, target: str | None = None) -> None:
        self._details.append(ErrorDetail(code=code, message=message, target=target))

    def __bool__(self) -> bool:
        return bool(self._details)

    def __len__(self) -> int:
        return len(self._details)

    def __iter__(self) -> Iterator[ErrorDetail]:
        return iter(self._details)

    def raise_if_any(self, what: str) -> None:
        if not self._details:
            return
        count = len(self._details)
        first = self._details[0].message
        more = f" (and {count - 1} more)" if count > 1 else ""
        raise PipelineValidationError(
            f"{what} is invalid: {first}{more}",
            target=self._details[0].target,
            details=self._details,
        )
