"""Datastores and datasets from Python, named after Azure ML SDK v1 (`azureml.core`).

    ws = Workspace.from_env()
    store = Datastore.get(ws, "workspaceblobstore")
    store.upload("data/", target_path="batch", overwrite=True)
    train = Dataset.Tabular.from_delimited_files(path=[(store, "batch/train.csv")])
    train = train.register(ws, "train", create_new_version=True)
    Dataset.get_by_name(ws, "train").id

Files go through the service (PUT .../Datastores/{name}/files/{path}): the
caller needs a token with Pipelines.Publish, never a storage key. Files
larger than one part (8 MiB) are sent in parts and committed at the end, with
a progress line when stderr is a terminal.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import quote

from pipelines.authoring import DataPath, DatasetConsumptionConfig, DatasetRef
from pipelines.client.workspace import ServiceError, Workspace

DEFAULT_DATASTORE = "workspaceblobstore"
PART_BYTES = 8 * 1_048_576

__all__ = ["Dataset", "Datastore", "FileDataset", "TabularDataset"]


# -- datastores ------------------------------------------------------------------------------------
@dataclass
class Datastore:
    workspace: Workspace
    entity: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.entity["Name"])

    @property
    def container_name(self) -> str:
        return str(self.entity["ContainerName"])

    @property
    def account_url(self) -> str | None:
        return self.entity.get("AccountUrl")

    @property
    def is_default(self) -> bool:
        return bool(self.entity.get("IsDefault"))

    @classmethod
    def get(cls, workspace: Workspace, datastore_name: str) -> Datastore:
        return cls(workspace, workspace.get_json(f"/Datastores/{quote(datastore_name, safe='')}"))

    @classmethod
    def get_default(cls, workspace: Workspace) -> Datastore:
        return cls.get(workspace, DEFAULT_DATASTORE)

    @classmethod
    def register(
        cls,
        workspace: Workspace,
        datastore_name: str,
        container_name: str,
        *,
        account_url: str | None = None,
        description: str | None = None,
        overwrite: bool = False,
        create_if_not_exists: bool = False,
    ) -> Datastore:
        """A container of the app's account (no `account_url`) or of another account, by its blob URL."""
        body = {
            "ContainerName": container_name,
            "AccountUrl": account_url,
            "Description": description,
            "Overwrite": overwrite,
            "CreateIfNotExists": create_if_not_exists,
        }
        entity = workspace.request(
            "PUT", f"/Datastores/{quote(datastore_name, safe='')}", json_body=body
        ).json()
        return cls(workspace, entity)

    @classmethod
    def register_azure_blob_container(
        cls,
        workspace: Workspace,
        datastore_name: str,
        container_name: str,
        account_name: str | None = None,
        overwrite: bool = False,
        create_if_not_exists: bool = False,
        **ignored: Any,
    ) -> Datastore:
        """The old SDK's call. `account_name` is another account, reached with the app's
        managed identity; keys and SAS tokens (in `ignored`) are never sent or stored."""
        url = f"https://{account_name}.blob.core.windows.net" if account_name else None
        return cls.register(
            workspace,
            datastore_name,
            container_name,
            account_url=url,
            overwrite=overwrite,
            create_if_not_exists=create_if_not_exists,
        )

    def unregister(self) -> None:
        """Forget the datastore (its files stay); refused while a published pipeline uses it."""
        self.workspace.request("DELETE", f"/Datastores/{quote(self.name, safe='')}")

    def path(self, path: str) -> DataPath:
        return DataPath(self.name, path)

    # -- upload -----------------------------------------------------------------------------------
    def upload(
        self,
        src_dir: str | os.PathLike[str],
        target_path: str | None = None,
        overwrite: bool = False,
        show_progress: bool = True,
    ) -> list[str]:
        """Upload a folder (every file under it, links skipped) or one file.

        Returns the datastore paths written (files skipped as existing are not listed).
        """
        source = Path(src_dir)
        if source.is_file():
            return self.upload_files(
                [source],
                relative_root=source.parent,
                target_path=target_path,
                overwrite=overwrite,
                show_progress=show_progress,
            )
        files = sorted(p for p in source.rglob("*") if p.is_file() and not p.is_symlink())
        return self.upload_files(
            files,
            relative_root=source,
            target_path=target_path,
            overwrite=overwrite,
            show_progress=show_progress,
        )

    def upload_files(
        self,
        files: Iterable[str | os.PathLike[str]],
        relative_root: str | os.PathLike[str] | None = None,
        target_path: str | None = None,
        overwrite: bool = False,
        show_progress: bool = True,
    ) -> list[str]:
        """Upload files, each at `target_path/` + its path under `relative_root` (or its name).

        Without `overwrite`, a file that exists on the datastore is skipped (as the old SDK did).
        """
        out = sys.stderr if show_progress else None
        written: list[str] = []
        root = Path(relative_root).resolve() if relative_root is not None else None
        for file in files:
            local = Path(file).resolve()
            relative = local.relative_to(root).as_posix() if root is not None else local.name
            remote = (
                f"{target_path.strip('/')}/{relative}" if target_path and target_path.strip("/") else relative
            )
            try:
                self.upload_file(local, remote, overwrite=overwrite, progress=out)
                written.append(remote)
            except ServiceError as error:
                if error.status != 409 or overwrite:
                    raise
                if out is not None:
                    print(f"skipped {remote}: it exists (overwrite to replace it)", file=out)
        return written

    def upload_file(
        self,
        local: str | os.PathLike[str],
        path: str,
        *,
        overwrite: bool = False,
        progress: TextIO | None = None,
    ) -> dict[str, Any]:
        """One file to `path` on this datastore: in one request, or in parts when large."""
        url = f"/Datastores/{quote(self.name, safe='')}/files/{quote(path, safe='/')}"
        size = os.path.getsize(local)
        flags = {"overwrite": "true"} if overwrite else {}
        if size <= PART_BYTES:
            with open(local, "rb") as source:
                answer = self.workspace.request("PUT", url, data=source.read(), params=flags).json()
            if progress is not None:
                print(f"uploaded {path} ({size} bytes)", file=progress)
            return dict(answer)
        upload_id = uuid.uuid4().hex
        parts = 0
        with open(local, "rb") as source:
            while chunk := source.read(PART_BYTES):
                self.workspace.request(
                    "PUT", url, data=chunk, params={**flags, "uploadId": upload_id, "part": str(parts)}
                )
                parts += 1
                _show(progress, path, min(parts * PART_BYTES, size), size)
        answer = self.workspace.request(
            "PUT", url, params={**flags, "uploadId": upload_id, "parts": str(parts)}
        ).json()
        if progress is not None:
            redraw = "\r" if progress.isatty() else ""  # over the progress line
            print(f"{redraw}uploaded {path} ({size} bytes in {parts} parts)", file=progress)
        return dict(answer)

    @classmethod
    def list(cls, workspace: Workspace) -> list[Datastore]:
        return [cls(workspace, item) for item in workspace.list_all("/Datastores")]


def _show(progress: TextIO | None, path: str, done: int, total: int) -> None:
    # A line redrawn in place on a terminal; nothing in a log file, which gets the final line only.
    if progress is None or not progress.isatty():
        return
    mib = 1_048_576
    progress.write(f"\r{path}: {done / mib:.1f} / {total / mib:.1f} MiB ({100 * done // total}%)")
    progress.flush()


# -- datasets --------------------------------------------------------------------------------------
PathLike = DataPath | tuple[Any, str] | str


def _path_body(path: PathLike | Sequence[PathLike]) -> list[dict[str, str]]:
    """DataPath, (datastore or its name, path), or a plain path on workspaceblobstore."""
    items: Sequence[PathLike] = [path] if isinstance(path, (DataPath, tuple, str)) else list(path)
    body: list[dict[str, str]] = []
    for item in items:
        if isinstance(item, DataPath):
            store, relative = item.datastore_name, item.path_on_datastore
        elif isinstance(item, tuple) and len(item) == 2:
            store = item[0] if isinstance(item[0], str) else str(item[0].name)
            relative = item[1]
        elif isinstance(item, str):
            store, relative = DEFAULT_DATASTORE, item
        else:
            raise TypeError(
                f"a dataset path is a DataPath, a (datastore, path) tuple or a path, not {item!r}"
            )
        body.append({"DataStoreName": store, "RelativePath": relative})
    return body


class _Dataset:
    """A dataset: an unregistered definition (from `Dataset.Tabular...`), or a registration."""

    dataset_type = ""

    def __init__(self, definition: dict[str, Any], workspace: Workspace | None = None) -> None:
        self.entity = definition
        self.workspace = workspace

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, version={self.version!r}, id={self.id!r})"

    @property
    def id(self) -> str | None:
        return self.entity.get("Id")

    @property
    def name(self) -> str | None:
        return self.entity.get("Name")

    @property
    def version(self) -> int | None:
        version = self.entity.get("Version")
        return int(version) if version is not None else None

    @property
    def paths(self) -> list[dict[str, str]]:
        return list(self.entity.get("Paths", []))

    def register(
        self,
        workspace: Workspace,
        name: str,
        description: str | None = None,
        tags: dict[str, str] | None = None,
        create_new_version: bool = False,
        validate: bool | None = None,
    ) -> _Dataset:
        """Register under `name`: version 1, or the next one with `create_new_version` (else 409 if taken)."""
        body = {
            **{
                k: v
                for k, v in self.entity.items()
                if k in ("DatasetType", "Paths", "Separator", "Header", "Encoding")
            },
            "Name": name,
            "Description": description,
            "Tags": dict(tags or {}),
            "CreateNewVersion": create_new_version,
            "Validate": self.entity.get("Validate", True) if validate is None else validate,
        }
        entity = workspace.request("POST", "/Datasets", json_body=body).json()
        return dataset_from(workspace, entity)

    def as_ref(self) -> DatasetRef:
        """This registration (its id) as the authoring API names a dataset."""
        if not self.id:
            raise ValueError("register the dataset first: only a registered dataset has an id")
        return DatasetRef(id=self.id)

    def as_named_input(self, name: str) -> DatasetConsumptionConfig:
        return DatasetConsumptionConfig(name, self.as_ref())


class TabularDataset(_Dataset):
    dataset_type = "Tabular"


class FileDataset(_Dataset):
    dataset_type = "File"


def dataset_from(workspace: Workspace, entity: dict[str, Any]) -> _Dataset:
    kind = FileDataset if entity.get("DatasetType") == "File" else TabularDataset
    return kind(entity, workspace)


class _TabularFactory:
    @staticmethod
    def from_delimited_files(
        path: PathLike | Sequence[PathLike],
        validate: bool = True,
        separator: str = ",",
        header: bool = True,
        encoding: str = "utf8",
        infer_column_types: bool = True,
    ) -> TabularDataset:
        """Delimited files (paths, folders or globs on datastores) read as one table.

        `validate` is checked when registering (every path must match a file);
        `infer_column_types` is accepted for compatibility: the step's runtime
        gives text (`to_records`) or lets pandas infer (`to_pandas_dataframe`).
        """
        return TabularDataset(
            {
                "DatasetType": "Tabular",
                "Paths": _path_body(path),
                "Separator": separator,
                "Header": header,
                "Encoding": encoding,
                "Validate": validate,
            }
        )


class _FileFactory:
    @staticmethod
    def from_files(path: PathLike | Sequence[PathLike], validate: bool = True) -> FileDataset:
        return FileDataset({"DatasetType": "File", "Paths": _path_body(path), "Validate": validate})


class Dataset:
    """`Dataset.Tabular.from_delimited_files(...)`, `Dataset.File.from_files(...)`, lookups."""

    Tabular = _TabularFactory
    File = _FileFactory

    @staticmethod
    def get_by_id(workspace: Workspace, id: str) -> _Dataset:
        return dataset_from(workspace, workspace.get_json(f"/Datasets/{quote(id, safe='')}"))

    @staticmethod
    def get_by_name(workspace: Workspace, name: str, version: int | str = "latest") -> _Dataset:
        entity = workspace.get_json("/Datasets/Name", params={"name": name, "version": str(version)})
        return dataset_from(workspace, entity)

    @staticmethod
    def list(workspace: Workspace, name: str | None = None) -> list[_Dataset]:
        items = workspace.list_all("/Datasets", {"name": name} if name else None)
        return [dataset_from(workspace, item) for item in items]
