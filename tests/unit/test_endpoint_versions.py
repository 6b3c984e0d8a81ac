"""The rules of an endpoint's version list (docs/contract.md §3): a new version is the highest number
plus one, each version keeps its pipeline for good, a pipeline appears once (no Azurite)."""

from __future__ import annotations

import pytest

from pipelines.catalogue.endpoint_changes import Version, VersionChange, merge_versions
from pipelines.errors import BadRequestError, NotFoundError

CURRENT = [Version("0", "p0"), Version("1", "p1")]


def known(pipeline_id: str) -> None:
    if pipeline_id.startswith("unknown"):
        raise NotFoundError(f"no pipeline {pipeline_id!r}")


def merge(*given: tuple[str | None, str]) -> list[Version]:
    return merge_versions(CURRENT, [VersionChange(v, p) for v, p in given], known)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        # a new entry without a number takes the next ones, in the caller's order
        ([("0", "p0"), ("1", "p1"), (None, "p2"), (None, "p3")], [("0", "p0"), ("1", "p1"), ("2", "p2"), ("3", "p3")]),
        # SDK v1's PipelineEndpoint.add sends the number it computed: max + 1
        ([("0", "p0"), ("1", "p1"), ("2", "p2")], [("0", "p0"), ("1", "p1"), ("2", "p2")]),
        # the caller's order is kept
        ([("1", "p1"), ("0", "p0")], [("1", "p1"), ("0", "p0")]),
    ],
)
def test_a_new_version_is_the_highest_number_plus_one(
    given: list[tuple[str | None, str]], expected: list[tuple[str, str]]
) -> None:
    assert merge(*given) == [Version(v, p) for v, p in expected]


@pytest.mark.parametrize(
    ("given", "words", "target"),
    [
        # a version left out would free its number for another pipeline later: refused
        ([("0", "p0")], "version '1' (pipeline 'p1') is missing", "PipelineVersionList"),
        ([("0", "p0"), (None, "p2")], "version '1' (pipeline 'p1') is missing", "PipelineVersionList"),
        # a number that is not the next one
        ([("0", "p0"), ("1", "p1"), ("7", "p2")], "a new version is the highest number plus one, '2'",
         "PipelineVersionList[2]"),
        # the next number written otherwise
        ([("0", "p0"), ("1", "p1"), ("002", "p2")], "(written '2')", "PipelineVersionList[2]"),
        ([("0", "p0"), ("1", "p1"), (" 2", "p2")], "(written '2')", "PipelineVersionList[2]"),
        ([("0", "p0"), ("1", "p1"), ("two", "p2")], "'two' is not the next version", "PipelineVersionList[2]"),
        # an existing version keeps its pipeline
        ([("0", "p0"), ("1", "p2")], "version '1' already points to pipeline 'p1'", "PipelineVersionList[1]"),
        # each version and each pipeline once
        ([("0", "p0"), ("1", "p1"), ("1", "p1")], "version '1' appears twice", "PipelineVersionList[2]"),
        ([("0", "p0"), ("1", "p1"), (None, "p1")], "pipeline 'p1' appears twice", "PipelineVersionList[2]"),
    ],
)
def test_a_list_that_breaks_a_rule_is_refused_naming_the_entry(
    given: list[tuple[str | None, str]], words: str, target: str
) -> None:
    with pytest.raises(BadRequestError) as caught:
        merge(*given)
    assert words in caught.value.message
    assert caught.value.target == target


def test_a_pipeline_new_to_the_endpoint_must_exist() -> None:
    with pytest.raises(NotFoundError):
        merge(("0", "p0"), ("1", "p1"), (None, "unknown-pipeline"))
