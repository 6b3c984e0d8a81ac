"""The data inputs a step script reads: `Run.get_context().input_datasets[name]`.

The worker has already downloaded the files into the step's folder; these
objects list and read them. Named after the old SDK's `FileDataset` and
`TabularDataset`, with what a script in a download-mode step used:

    data = Run.get_context().input_datasets["scoring"]
    data.files()                 # local paths, in reading order
    data.to_records()            # [{"column": "text"}, ...]: the csv module, no dependency
    data.to_pandas_dataframe()   # pandas, imported only here (install it yourself)
    open(os.path.join(data, "part-0.csv"))   # os.PathLike: the staged folder

Standard library only at import time: a step that never reads a table never
needs pandas.
"""

from __future__ import annotations

import csv
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

from pipelines.runtime.context import StagedInput

__all__ = ["FileDataset", "MountContext", "TabularDataset", "dataset_of"]


class MountContext:
    """What `mount()` answers: the files are already local, so this is only their folder."""

    def __init__(self, mount_point: str) -> None:
        self.mount_point = mount_point

    def start(self) -> None:
        """Nothing to do: kept so `mount().start()` from old scripts runs."""

    def stop(self) -> None:
        """Nothing to undo."""

    def __enter__(self) -> MountContext:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, trace: TracebackType | None
    ) -> None:
        return None

    def __fspath__(self) -> str:
        return self.mount_point

    def __str__(self) -> str:
        return self.mount_point


class FileDataset:
    """The files of a data input, staged on local disk."""

    def __init__(self, name: str, staged: StagedInput) -> None:
        self.input_name = name
        self.kind: str = staged.kind
        self.path: str = staged.path
        self.root: str = staged.root or staged.path
        self._files: list[str] | None = staged.files
        identity = staged.dataset or {}
        self.id: str | None = identity.get("id")
        self.name: str | None = identity.get("name")
        self.version: int | None = identity.get("version")
        self.sources: list[dict[str, str]] = list(staged.sources)

    def __repr__(self) -> str:
        what = f"{self.name} v{self.version}" if self.name else self.kind
        return f"{type(self).__name__}({self.input_name!r}: {what} at {self.path!r})"

    def __fspath__(self) -> str:
        return self.path

    def __str__(self) -> str:
        return self.path

    def to_path(self) -> list[str]:
        """Paths relative to the dataset's folder, as the old SDK's `to_path()` gave them."""
        if self._files is not None:
            return list(self._files)
        root = Path(self.root)
        if root.is_file():
            return [root.name]
        return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())

    def files(self) -> list[str]:
        """Absolute local paths of the files, in the order the dataset lists them."""
        return [os.path.join(self.root, relative) for relative in self.to_path()]

    def download(
        self, target_path: str | os.PathLike[str] | None = None, overwrite: bool = False
    ) -> list[str]:
        """The local files; with `target_path`, copied there first (as the old SDK did)."""
        if target_path is None:
            return self.files()
        target = Path(target_path)
        copied: list[str] = []
        for relative, source in zip(self.to_path(), self.files(), strict=True):
            destination = target / relative
            if destination.exists() and not overwrite:
                raise FileExistsError(f"{destination} exists; pass overwrite=True to replace it")
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, destination)
            copied.append(str(destination))
        return copied

    def mount(self, mount_point: str | os.PathLike[str] | None = None) -> MountContext:
        """The folder of the files (no FUSE on a Function app: they were downloaded before the step)."""
        if mount_point is None:
            return MountContext(self.root)
        self.download(mount_point, overwrite=True)
        return MountContext(os.fspath(mount_point))


class TabularDataset(FileDataset):
    """Delimited files read as one table: the header comes from the first file."""

    def __init__(self, name: str, staged: StagedInput) -> None:
        super().__init__(name, staged)
        options = staged.options
        self.separator: str = options.get("separator", ",")
        self.header: bool = bool(options.get("header", True))
        self.encoding: str = options.get("encoding", "utf-8")
        self._columns: list[str] | None = None

    def _read(self) -> Iterator[list[str]]:
        """Every data row of every file; a header row (one per file) is skipped and kept."""
        for path in self.files():
            with open(path, newline="", encoding=self.encoding) as handle:
                reader = csv.reader(handle, delimiter=self.separator)
                if self.header:
                    first = next(reader, None)
                    if first is not None and self._columns is None:
                        self._columns = first
                for row in reader:
                    if row:
                        yield row

    @property
    def columns(self) -> list[str]:
        if self._columns is None:
            for _ in self._read():
                break
        return list(self._columns or [])

    def to_csv_rows(self) -> list[list[str]]:
        """The data rows as lists of text, header excluded (see `columns`)."""
        return list(self._read())

    def to_records(self) -> list[dict[str, str]]:
        """The rows as dicts keyed by column name; `Column1`, `Column2`... without a header."""
        rows = self.to_csv_rows()
        columns = self.columns
        width = max([len(columns)] + [len(row) for row in rows]) if rows or columns else 0
        names = columns + [f"Column{n + 1}" for n in range(len(columns), width)]
        return [dict(zip(names, row, strict=False)) for row in rows]  # a short row has fewer keys

    def to_pandas_dataframe(self) -> Any:
        """A pandas DataFrame of the whole table; pandas is imported here, on first use."""
        try:
            import pandas
        except ImportError:
            raise ImportError(
                "to_pandas_dataframe() needs pandas in the worker's environment;"
                " to_records() and to_csv_rows() need nothing"
            ) from None
        frames = [
            pandas.read_csv(
                path, sep=self.separator, header=0 if self.header else None, encoding=self.encoding
            )
            for path in self.files()
        ]
        if not frames:
            return pandas.DataFrame()
        frame = pandas.concat(frames, ignore_index=True)
        if not self.header:
            frame.columns = [f"Column{n + 1}" for n in range(len(frame.columns))]
        return frame


def dataset_of(name: str, staged: StagedInput) -> FileDataset:
    """File datasets list files; tabular datasets and datapaths also read as tables."""
    if staged.type == "file" and staged.kind == "dataset":
        return FileDataset(name, staged)
    return TabularDataset(name, staged)
