"""The project's version: the one place it is written.

`pyproject.toml` reads it for the package (`[tool.setuptools.dynamic]`),
`pipelines --version` prints it and `GET /health` answers it as `Version`.
Change it here when a release is cut (and move CHANGELOG.md's Unreleased
section under that version).
"""

__version__ = "0.1.0.dev0"
