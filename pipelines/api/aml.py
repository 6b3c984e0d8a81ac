"""What SDK v1's own clients read besides the contract's routes, so that its objects can be made.

- `GET {WS}/DataTypes`: every `azureml.pipeline.core` object (`PublishedPipeline`,
  `PipelineEndpoint`, `PipelineRun`, `StepRun`, and each run `Experiment.get_runs()` gives
  back as one) is made through a provider that first reads the data types and creates any of
  its eleven that is missing (`_AevaDataTypeProvider.ensure_default_datatypes`). Without
  this route nothing of the package works; the types are fixed here, so nothing is created.
- `GET /datastore/v1.0/{scope}/datastores/{name}`: `StepRun.get_output_data()` makes the
  datastore an output names (`AmlDataStoreName`, `workspaceartifactstore`) with
  `Datastore.get`. The answer says where it is and gives no key and no SAS
  (`credentialType` None): the SDK's `download()` then says it cannot download without
  credentials, and outputs are read through this service (`Uri`, `pipelines run download`).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from pipelines.api.answers import AmlDatastoreDto, AzureStorageSection, DataTypeEntity
from pipelines.api.http import RequestContext, route
from pipelines.api.outputs import OUTPUT_STORE
from pipelines.data.datastores import Datastores
from pipelines.store import get_account

# What `ensure_default_datatypes` of azureml-pipeline-core requires, files then folders.
FILE_TYPES = (
    "AnyFile", "AzureBlobReference", "AzureDataLakeReference", "AzureFilesReference", "AzureSqlDatabaseReference",
    "AzurePostgresDatabaseReference", "AzureDataLakeGen2Reference", "AzureMLDataset", "AzureMySqlDatabaseReference",
    "DBFSReference",
)
DIRECTORY_TYPES = ("AnyDirectory",)
DATA_TYPES = tuple(
    DataTypeEntity(id=name, name=name, description=name, is_directory=name in DIRECTORY_TYPES,
                   parent_data_type_ids=[], entity_status="Active")
    for name in (*FILE_TYPES, *DIRECTORY_TYPES)
)


@route("list_data_types")
def list_data_types(ctx: RequestContext) -> list[DataTypeEntity]:
    return list(DATA_TYPES)


@route("get_aml_datastore")
def get_aml_datastore(ctx: RequestContext) -> AmlDatastoreDto:
    """The store of step outputs (`workspaceartifactstore`: the app's `runs` container), or a
    datastore of the workspace (404 for another name)."""
    account = get_account()
    workspace, name = ctx.workspace, ctx.param("datastoreName")
    if name == OUTPUT_STORE:
        container, account_url = account.settings.container_name("runs"), None
    else:
        store = Datastores(account).get(workspace, name)
        container, account_url = store.container, store.account_url
    account_name, endpoint, protocol = blob_endpoint(account_url or account.blob_url)
    section = AzureStorageSection(account_name=account_name, container_name=container, endpoint=endpoint,
                                  protocol=protocol, credential_type="None")
    return AmlDatastoreDto(name=name, data_store_type="AzureBlob", azure_storage_section=section)


def blob_endpoint(account_url: str) -> tuple[str, str, str]:
    """(account name, endpoint suffix, protocol) of a blob account URL, as Azure ML names them:
    `https://acct.blob.core.windows.net` is (acct, core.windows.net, https); a path-style URL
    (Azurite's `http://127.0.0.1:10000/devstoreaccount1`) is (devstoreaccount1, 127.0.0.1:10000, http)."""
    parts = urlsplit(account_url)
    host = parts.netloc
    account, dot_blob, suffix = host.partition(".blob.")
    if dot_blob:
        return account, suffix, parts.scheme
    return parts.path.strip("/").split("/")[0], host, parts.scheme
