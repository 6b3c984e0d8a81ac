"""Render (and rewrite) `definition.schema.json` from the definition models.

python -m pipelines.authoring.schema          # rewrite the committed file
python -m pipelines.authoring.schema --check  # exit 1 when it is stale
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pipelines.authoring.definition import definition_json_schema

SCHEMA_PATH = Path(__file__).with_name("definition.schema.json")


def render_schema() -> str:
    # Sorted keys and a final newline: the committed file diffs cleanly.
    return json.dumps(definition_json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    text = render_schema()
    if "--check" in args:
        current = SCHEMA_PATH.read_text(encoding="utf-8") if SCHEMA_PATH.exists() else ""
        if current != text:
            print(f"{SCHEMA_PATH} is stale; run python -m pipelines.authoring.schema", file=sys.stderr)
            return 1
        return 0
    SCHEMA_PATH.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
