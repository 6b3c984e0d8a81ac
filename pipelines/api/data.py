"""Routes of datastores and datasets (the project's own; docs/contract.md §1 leaves them to us).

In the contract's style: under the workspace prefix, PascalCase entities,
answers 200, errors as the contract's error JSON, lists as bare arrays paged
with `x-ms-continuation`. Reading needs Pipelines.Read; registering,
uploading and removing Pipelines.Publish (`pipelines/api/routes.py`).
"""

from __future__ import annotations

from pydantic import Field

from pipelines.api.contract import Wire, wire_time
from pipelines.api.data_requests import dataset_registration, datastore_registration, flag
from pipelines.api.http import Reply, RequestContext, route
from pipelines.api.paging import page_request, paged
from pipelines.data import Dataset, Datasets, Datastore, Datastores, parse_version
from pipelines.data.uploads import (
    UPLOAD_REQUEST_BYTES,
    check_part,
    check_upload_id,
    check_upload_path,
    commit_parts,
    stage_part,
    upload_whole,
)
from pipelines.data.usage import pipelines_using
from pipelines.errors import BadRequestError
from pipelines.store import get_account

_WIRE_TYPES = {"tabular": "Tabular", "file": "File"}


# -- wire models -----------------------------------------------------------------------------------
class DatastoreEntity(Wire):
    name: str = Field(alias="Name")
    datastore_type: str = Field(alias="DatastoreType")
    container_name: str = Field(alias="ContainerName")
    # None: a container of the app's own storage account.
    account_url: str | None = Field(alias="AccountUrl")
    is_default: bool = Field(alias="IsDefault")
    description: str | None = Field(alias="Description")
    etag: str | None = Field(alias="Etag")
    created_date: str | None = Field(alias="CreatedDate")
    last_modified_date: str | None = Field(alias="LastModifiedDate")


class UploadEntity(Wire):
    data_store_name: str = Field(alias="DataStoreName")
    relative_path: str = Field(alias="RelativePath")
    size: int = Field(alias="Size")
    # False for a staged part: the file appears when the parts are committed.
    committed: bool = Field(alias="Committed")
    upload_id: str | None = Field(default=None, alias="UploadId")
    part: int | None = Field(default=None, alias="Part")


class DataPathEntity(Wire):
    data_store_name: str = Field(alias="DataStoreName")
    relative_path: str = Field(alias="RelativePath")


class DatasetEntity(Wire):
    id: str = Field(alias="Id")
    name: str = Field(alias="Name")
    # A string, as DataSetReference carries it ("1").
    version: str = Field(alias="Version")
    dataset_type: str = Field(alias="DatasetType")
    description: str | None = Field(alias="Description")
    paths: list[DataPathEntity] = Field(alias="Paths")
    separator: str | None = Field(alias="Separator")
    header: bool | None = Field(alias="Header")
    encoding: str | None = Field(alias="Encoding")
    tags: dict[str, str] = Field(alias="Tags")
    created_date: str | None = Field(alias="CreatedDate")


def datastore_entity(store: Datastore) -> DatastoreEntity:
    return DatastoreEntity(
        name=store.name,
        datastore_type="AzureBlob",
        container_name=store.container,
        account_url=store.account_url,
        is_default=store.is_default,
        description=store.description,
        etag=store.etag,
        created_date=wire_time(store.created),
        last_modified_date=wire_time(store.modified),
    )


def dataset_entity(dataset: Dataset) -> DatasetEntity:
    options = dataset.options
    return DatasetEntity(
        id=dataset.id,
        name=dataset.name,
        version=str(dataset.version),
        dataset_type=_WIRE_TYPES[dataset.type],
        description=dataset.description,
        paths=[DataPathEntity(data_store_name=p.datastore, relative_path=p.path) for p in dataset.paths],
        separator=options.get("separator"),
        header=options.get("header"),
        encoding=options.get("encoding"),
        tags=dataset.tags,
        created_date=wire_time(dataset.created),
    )


# -- services --------------------------------------------------------------------------------------
def datastores() -> Datastores:
    return Datastores(get_account())


def datasets() -> Datasets:
    return Datasets(get_account())


# -- datastores ------------------------------------------------------------------------------------
@route("list_datastores")
def list_datastores(ctx: RequestContext) -> Reply:
    size, token = page_request(ctx)
    stores, next_token = datastores().list(ctx.workspace, page_size=size, continuation=token)
    return paged([datastore_entity(s) for s in stores], next_token)


def _register(ctx: RequestContext, path_name: str | None) -> DatastoreEntity:
    given = datastore_registration(
        ctx.json_object(empty_ok=False), path_name=path_name, overwrite_query=ctx.query("overwrite")
    )
    store = datastores().register(
        ctx.workspace,
        given.name,
        container=given.container,
        account_url=given.account_url,
        description=given.description,
        overwrite=given.overwrite,
        create_if_not_exists=given.create_if_not_exists,
    )
    return datastore_entity(store)


@route("create_datastore")
def create_datastore(ctx: RequestContext) -> DatastoreEntity:
    """Body: {"Name", "ContainerName", "AccountUrl"?, "Description"?, "Overwrite"?, "CreateIfNotExists"?}."""
    return _register(ctx, None)


@route("register_datastore")
def register_datastore(ctx: RequestContext) -> DatastoreEntity:
    """The same registration again answers the datastore unchanged; another one needs Overwrite."""
    return _register(ctx, ctx.param("datastoreName"))


@route("get_datastore")
def get_datastore(ctx: RequestContext) -> DatastoreEntity:
    return datastore_entity(datastores().get(ctx.workspace, ctx.param("datastoreName")))


@route("remove_datastore")
def remove_datastore(ctx: RequestContext) -> DatastoreEntity:
    """Forget the datastore (its files stay); 409 while a runnable published pipeline's defaults use it."""
    name = ctx.param("datastoreName")
    return datastore_entity(
        datastores().remove(ctx.workspace, name, lambda: pipelines_using(get_account(), ctx.workspace, name))
    )


@route("upload_datastore_file", max_bytes=lambda: UPLOAD_REQUEST_BYTES)
def upload_datastore_file(ctx: RequestContext) -> UploadEntity:
    """PUT a file's bytes; larger files in parts: `?uploadId=&part=0..n-1`, then `?uploadId=&parts=n`.

    `?overwrite=true` replaces an existing file; without it an existing file is a 409.
    """
    service = datastores()
    store = service.get(ctx.workspace, ctx.param("datastoreName"))
    path = check_upload_path(ctx.param("path"))
    overwrite = flag(ctx.query("overwrite"), "overwrite")
    location = service.location(store)
    body = ctx.request.get_body() or b""
    upload_id = ctx.query("uploadId")
    if upload_id is None:
        upload_whole(location, path, body, overwrite=overwrite)
        return UploadEntity(data_store_name=store.name, relative_path=path, size=len(body), committed=True)
    check_upload_id(upload_id)
    part, parts = ctx.query("part"), ctx.query("parts")
    if (part is None) == (parts is None):
        raise BadRequestError(
            "with uploadId, give either part (stage one part) or parts (commit them all)", target="uploadId"
        )
    if part is not None:
        number = check_part(part, "part", 0)
        stage_part(location, path, upload_id, number, body, overwrite=overwrite)
        return UploadEntity(
            data_store_name=store.name,
            relative_path=path,
            size=len(body),
            committed=False,
            upload_id=upload_id,
            part=number,
        )
    size = commit_parts(location, path, upload_id, check_part(parts or "", "parts", 1), overwrite=overwrite)
    return UploadEntity(
        data_store_name=store.name, relative_path=path, size=size, committed=True, upload_id=upload_id
    )


# -- datasets --------------------------------------------------------------------------------------
@route("register_dataset")
def register_dataset(ctx: RequestContext) -> DatasetEntity:
    """Body: {"Name", "DatasetType": "Tabular"|"File", "Paths": [{"DataStoreName", "RelativePath"}],
    "Separator"?, "Header"?, "Encoding"?, "Description"?, "Tags"?, "CreateNewVersion"? (true),
    "Validate"? (true)}."""
    given = dataset_registration(ctx.json_object(empty_ok=False))
    dataset = datasets().register(
        ctx.workspace,
        name=given.name,
        dataset_type=given.dataset_type,
        paths=given.paths,
        options=given.options,
        description=given.description,
        tags=given.tags,
        create_new_version=given.create_new_version,
        validate=given.validate,
    )
    return dataset_entity(dataset)


@route("list_datasets")
def list_datasets(ctx: RequestContext) -> Reply:
    """Every registration, by name, newest version first; `?name=` for the versions of one name."""
    size, token = page_request(ctx)
    items, next_token = datasets().list(
        ctx.workspace, name=ctx.query("name") or None, page_size=size, continuation=token
    )
    return paged([dataset_entity(d) for d in items], next_token)


@route("get_dataset")
def get_dataset(ctx: RequestContext) -> DatasetEntity:
    return dataset_entity(datasets().get(ctx.workspace, ctx.param("datasetId")))


@route("get_dataset_by_name")
def get_dataset_by_name(ctx: RequestContext) -> DatasetEntity:
    """`?name=` and `?version=` (the latest when absent or "latest")."""
    name = ctx.query("name")
    if not name:
        raise BadRequestError("the dataset name is required: ?name=", target="name")
    version = parse_version(ctx.query("version"), target="version")
    return dataset_entity(datasets().get_by_name(ctx.workspace, name, version))
