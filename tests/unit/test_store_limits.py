"""What Table storage can keep, checked before any write: sizes and Unicode text."""

from __future__ import annotations

import pytest

from pipelines.errors import BadRequestError
from pipelines.store.tables import MAX_ENTITY_BYTES, MAX_KEY_UNITS, MAX_STRING_UNITS, check_entity_size, key


def test_text_that_fits_is_kept_astral_characters_included() -> None:
    # GIVEN strings at the limit, one of them made of characters outside the BMP (two UTF-16 units each)
    entity = {"PartitionKey": "ws", "RowKey": "r", "Name": "x" * MAX_STRING_UNITS,
              "Emoji": "\U0001f600" * (MAX_STRING_UNITS // 2)}
    # WHEN / THEN nothing is refused
    check_entity_size(entity)


@pytest.mark.parametrize("unit", ["x", "\u00e9", "\U0001f600"], ids=["ascii", "bmp", "astral"])
def test_a_string_one_unit_over_the_limit_is_a_400_naming_the_property(unit: str) -> None:
    # GIVEN a string of one UTF-16 unit more than a property holds (an astral character is two)
    text = unit * (MAX_STRING_UNITS // (len(unit.encode("utf-16-le")) // 2))
    check_entity_size({"Description": text})  # at the limit: kept
    over = text + "x"
    # WHEN it is checked, THEN it is refused, naming the property
    with pytest.raises(BadRequestError) as refused:
        check_entity_size({"Description": over})
    assert refused.value.target == "Description" and "too large to keep" in refused.value.message


@pytest.mark.parametrize("text", ["\ud800", "a\udfffb", "\ude00\ud83d"])
def test_an_unpaired_surrogate_is_a_400_naming_the_property(text: str) -> None:
    # GIVEN a string with a surrogate that is not half of a pair (json.loads gives one for "\ud800")
    with pytest.raises(BadRequestError) as refused:
        check_entity_size({"PartitionKey": "ws", "ExperimentName": text})
    # THEN it is refused before storage sees it, naming the property and the rule
    assert refused.value.target == "ExperimentName"
    assert "unpaired surrogate" in refused.value.message


def test_a_record_over_the_entity_limit_is_refused() -> None:
    entity = {f"P{i}": "x" * MAX_STRING_UNITS for i in range(MAX_ENTITY_BYTES // (2 * MAX_STRING_UNITS) + 1)}
    with pytest.raises(BadRequestError, match="the record is too large to keep"):
        check_entity_size({"RowKey": "r", **entity})


def test_a_key_is_measured_in_utf16_units_and_a_lone_surrogate_in_one_never_crashes_the_count() -> None:
    # 255 emoji are 510 units: with "ws|" over the 512 a key holds
    with pytest.raises(BadRequestError, match="too long"):
        key("ws", "\U0001f600" * 255)
    assert key("w", "\U0001f600" * 255) == "w|" + "\U0001f600" * 255  # 512 units: fits
    # a lone surrogate (refused where a value is kept) is counted as one unit, not a crash
    assert key("ws", "\ud800") == "ws|\ud800"
    with pytest.raises(BadRequestError, match="too long"):
        key("ws", "\ud800" * MAX_KEY_UNITS)
