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
    raw = ctx.query("top") or ctx.header("BatchSize")
    size = get_settings().page_size_default
    if raw not in (None, ""):
        number = whole_number(raw)
        if number is None or not 1 <= number <= MAX_PAGE:
            raise BadRequestError(f"the page size must be a whole number from 1 to {MAX_PAGE}", target="top")
        size = number
    return size, ctx.query("continuationToken") or None


def paged(items: list[Any], continuation: str | None) -> Reply:
    headers = {"x-ms-continuation": continuation} if continuation else {}
    return Reply(items, headers=headers)
