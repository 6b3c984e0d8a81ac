"""Storage errors become the project's own, here and nowhere else.

The Azure SDKs raise their own exception tree. Outside `pipelines.store` nobody
catches it: every call the store makes runs inside `translated()`, which turns

- a service that does not answer (connection refused or reset, a timeout) or
  answers that it is busy or failing (408, 429, 500, 502, 503, 504) into
  `StorageUnavailableError`: 503 with `Retry-After`, an outage, not a bug;
- a refused identity (401, 403) into `StorageUnavailableError` too, logged with
  what to check: the app cannot work until its role assignment is fixed;
- anything else into `StorageError` (a 500 that is logged).

Not-found, exists and changed-since-read are the callers' business and are
translated where they are expected (`Table`, `Blobs`), into `NotFound`-shaped
returns or `AlreadyExistsError` / `EtagMismatchError`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)

from pipelines.errors import PipelinesError, StorageUnavailableError

log = logging.getLogger("pipelines.store")

RETRY_AFTER_SECONDS = 5
_UNAVAILABLE = {408, 429, 500, 502, 503, 504}


class StorageError(PipelinesError):
    """Storage refused a call for a reason that is not an outage: a bug or a misconfiguration."""


def unavailable(reason: str) -> StorageUnavailableError:
    return StorageUnavailableError(
        f"storage is not available ({reason}); try again shortly",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def translate(error: AzureError) -> PipelinesError:
    if isinstance(error, (ServiceRequestError, ServiceResponseError)):
        return unavailable(type(error).__name__)
    if isinstance(error, ClientAuthenticationError) or (
        isinstance(error, HttpResponseError) and error.status_code in (401, 403)
    ):
        log.error("storage refused the app's identity: check its role assignments (%s)", error)
        return unavailable("the app's identity was refused")
    if isinstance(error, HttpResponseError) and error.status_code in _UNAVAILABLE:
        return unavailable(f"status {error.status_code}")
    log.error("storage refused a call: %s", error)
    return StorageError(f"storage refused a call ({type(error).__name__})")


@contextmanager
def translated() -> Iterator[None]:
    """Run storage calls; any SDK error leaves as the project's own."""
    try:
        yield
    except AzureError as error:
        raise translate(error) from error
