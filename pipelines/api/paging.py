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
from pipelines.text import whole_number

MAX_PAGE = 1000


def page_request(ctx: RequestContext) -> tuple[int, str | None]:
    """The page size (`?top=`, else the `BatchSize` header, else MAX_PAGE) and the continuation
    token. Each size that is sent must be a whole number from 1 to MAX_PAGE, the one that loses too.

    Asked without a size, a list answers as much as one page holds: SDK v1 lists published
    pipelines and a pipeline's runs sending no size and reading no `x-ms-continuation` (only
    its endpoint list sends `BatchSize`), so a smaller default would cut its lists short with
    nothing said."""
    top = page_size(ctx.query("top"), "top")
    batch = page_size(ctx.header("BatchSize"), "BatchSize")
    return top or batch or MAX_PAGE, ctx.query("continuationToken") or None


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
