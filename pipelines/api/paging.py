"""Paging of list routes (docs/contract.md §1, our choice).

The caller asks for a page size with the `BatchSize` header (the old client
sends it) or `?top=`; when more remain, the answer carries `x-ms-continuation`,
which the caller passes back as `?continuationToken=`. The body stays a bare
JSON array, which is what the old client deserialises.
"""

from __future__ import annotations

from typing import Any

from pipelines.api.http import Reply, RequestContext
from pipelines.errors import BadRequestError
from pipelines.settings import get_settings
from pipelines.text import whole_number

MAX_PAGE = 1000


def page_request(ctx: RequestContext) -> tuple[int, str | None]:
    """The page size (`?top=`, else the `BatchSize` header, else the default) and the continuation
    token. Each size that is sent must be a whole number from 1 to MAX_PAGE, the one that loses too."""
    top = page_size(ctx.query("top"), "top")
    batch = page_size(ctx.header("BatchSize"), "BatchSize")
    size = top or batch or get_settings().page_size_default
    return size, ctx.query("continuationToken") or None


def page_size(raw: str | None, name: str) -> int | None:
    """A page size sent as text; None when it is not sent (the host leaves an empty `?top=` out, and
    an empty `BatchSize` header is a size that is no number)."""
    if raw is None:
        return None
    number = whole_number(raw)
    if number is None or not 1 <= number <= MAX_PAGE:
        raise BadRequestError(f"{name}, the page size, must be a whole number from 1 to {MAX_PAGE}", target=name)
    return number


def paged(items: list[Any], continuation: str | None) -> Reply:
    headers = {"x-ms-continuation": continuation} if continuation else {}
    return Reply(items, headers=headers)
