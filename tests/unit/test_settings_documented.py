"""Every setting the app reads is named in its documents (README.md or docs/), so an operator
finds what can be set; the settings models are where the app declares them."""

from __future__ import annotations

import re

from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

from pipelines.auth.config import AuthSettings
from pipelines.settings import Settings
from tests.service import ROOT

# Read from the environment outside the two models, by the code that names them.
READ_ELSEWHERE = ("PIPELINES_WORKER_TARGET", "PIPELINES_WORKER_WORKSPACE", "PIPELINES_BASE_URL")


def _names(model: type[BaseSettings]) -> set[str]:
    prefix = str(model.model_config.get("env_prefix") or "")
    found: set[str] = set()
    for name, field in model.model_fields.items():
        found.add(_setting(prefix, name, field))
    return found


def _setting(prefix: str, name: str, field: FieldInfo) -> str:
    alias = field.validation_alias if isinstance(field.validation_alias, str) else field.alias
    return alias or (prefix + name).upper()


def _documents() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))])


def test_every_setting_the_app_reads_is_documented() -> None:
    documents = _documents()
    settings = _names(Settings) | _names(AuthSettings) | set(READ_ELSEWHERE)
    assert len(settings) > 40  # the models were read, not an empty set
    missing = sorted(name for name in settings if not re.search(rf"\b{re.escape(name)}\b", documents))
    assert missing == []


def test_the_settings_read_elsewhere_are_read_where_this_test_says() -> None:
    sources = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "pipelines").rglob("*.py"))
    for name in READ_ELSEWHERE:
        assert f'"{name}"' in sources, name
