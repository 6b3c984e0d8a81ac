"""`python -m pipelines <command>`: see `pipelines.cli`."""

from __future__ import annotations

from pipelines.cli import main

raise SystemExit(main())
