"""Render (and rewrite) `definition.schema.json` from the definition models.

python -m pipelines.authoring.schema          # rewrite the committed file
python -m pipelines.authoring.schema --check  # exit 1 when it is stale
"""

from __future__ import annotations

import json
from pathlib import Path

from pipelines.authoring.definition import definition_json_schema
from pipelines.generated import write_or_check

SCHEMA_PATH = Path(__file__).with_name("definition.schema.json")


def render_schema() -> str:
    # Sorted keys and a final newline: the committed file diffs cleanly.
    return json.dumps(definition_json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    return write_or_check(SCHEMA_PATH, render_schema(), "python -m pipelines.authoring.schema", argv)


if __name__ == "__main__":
    raise SystemExit(main())
