"""One exception tree for the whole package.

Every error the API can answer with is a `PipelinesError`: it carries its HTTP
status and the stable `Code` of the contract (`docs/contract.md` §4), so a
single mapper in `pipelines.api.http` turns any of them into the error JSON.
Context is passed as keyword arguments (`target`, `details`), not only formatted
into the message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ErrorDetail:
    code: str
    message: str
    target: str | None = None


class PipelinesError(Exception):
    """Root of every error raised on purpose by this package."""

    status: int = 500
    code: str = "InternalError"

    def __init__(
        self,
        message: str,
        *,
        target: str | None = None,
        details: Sequence[ErrorDetail] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.target = target
        self.details = list(details)
        self.headers = dict(headers or {})


class ConfigurationError(PipelinesError):
    """A setting is missing or malformed: raised at start-up."""


class BadRequestError(PipelinesError):
    status = 400
    code = "UserError"


class InvalidParameterError(BadRequestError):
    code = "InvalidParameter"


class UnauthorizedError(PipelinesError):
    status = 401
    code = "Unauthorized"

    def __init__(self, message: str, *, error: str = "invalid_token") -> None:
        # RFC 6750 §3: the challenge names the error; the description must not
        # carry quotes that would break the header.
        description = message.replace('"', "'")
        super().__init__(
            message,
            headers={
                "WWW-Authenticate": f'Bearer error="{error}", error_description="{description}"'
            },
        )


class ForbiddenError(PipelinesError):
    status = 403
    code = "Forbidden"


class NotFoundError(PipelinesError):
    status = 404
    code = "NotFound"


class MethodNotAllowedError(PipelinesError):
    status = 405
    code = "MethodNotAllowed"


class ConflictError(PipelinesError):
    status = 409
    code = "UserError"


class AlreadyExistsError(ConflictError):
    """An insert-if-absent found the key taken."""


class EntityDisabledError(ConflictError):
    code = "EntityDisabled"


class PreconditionFailedError(PipelinesError):
    status = 412
    code = "PreconditionFailed"


class EtagMismatchError(PreconditionFailedError):
    """A compare-and-swap lost: the entity changed since it was read."""


class LengthRequiredError(PipelinesError):
    """A body sent without a length (`Transfer-Encoding: chunked`), which the host drops."""

    status = 411
    code = "LengthRequired"


class PayloadTooLargeError(PipelinesError):
    status = 413
    code = "PayloadTooLarge"


class RangeNotSatisfiableError(PipelinesError):
    """A `Range` header this service cannot answer (past the end, or several ranges)."""

    status = 416
    code = "RangeNotSatisfiable"


class ServiceUnavailableError(PipelinesError):
    """The service cannot answer now: an outage or a deployment to fix, not a bug."""

    status = 503
    code = "ServiceUnavailable"


class StorageUnavailableError(ServiceUnavailableError):
    """Storage does not answer (or refuses the app's identity)."""
