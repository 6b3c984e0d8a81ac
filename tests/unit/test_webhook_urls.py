"""A webhook URL as answers show it (its query's values masked), and taken back from a whole-entity PUT."""

from __future__ import annotations

import pytest

from pipelines.catalogue.webhooks import Webhook, restored, shown
from pipelines.errors import BadRequestError

S1, S2 = "PIPELINES_WEBHOOK_SECRET_A", "PIPELINES_WEBHOOK_SECRET_B"


@pytest.mark.parametrize(
    ("url", "answer"),
    [
        ("https://example.com/hook", "https://example.com/hook"),
        ("https://example.com/hook?", "https://example.com/hook?"),
        ("https://x.logic.azure.com/workflows/1/triggers/manual/paths/invoke?api-version=2016-10-01&sp=%2Fr&sig=abc",
         "https://x.logic.azure.com/workflows/1/triggers/manual/paths/invoke?api-version=***&sp=***&sig=***"),
        ("https://example.com/hook?token", "https://example.com/hook?***"),
        ("https://example.com/hook?a=1&&b=", "https://example.com/hook?a=***&&b=***"),
        ("https://example.com/hook#frag", "https://example.com/hook#***"),
        ("https://example.com/hook?k=v#frag", "https://example.com/hook?k=***#***"),
    ],
)
def test_answers_show_no_value_of_a_webhooks_query(url: str, answer: str) -> None:
    assert shown(url) == answer
    assert shown(answer) == answer  # shown twice, the same


def test_webhooks_sent_back_as_shown_are_the_stored_ones() -> None:
    stored = (Webhook("https://example.com/h?sig=1", S1), Webhook("https://example.com/h?sig=2", S2))
    sent = (Webhook("https://example.com/h?sig=***", S2), Webhook("https://example.com/h?sig=***", S1),
            Webhook("https://example.com/new?sig=3", S1))
    assert restored(sent, stored) == (
        Webhook("https://example.com/h?sig=2", S2), Webhook("https://example.com/h?sig=1", S1),
        Webhook("https://example.com/new?sig=3", S1),
    )


def test_a_masked_url_that_names_no_stored_webhook_is_refused() -> None:
    with pytest.raises(BadRequestError) as caught:
        restored((Webhook("https://example.com/other?sig=***", S1),), (Webhook("https://example.com/h?sig=1", S1),))
    assert caught.value.target == "Webhooks[0].Url"
