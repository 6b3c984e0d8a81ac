// The Function app of the published-pipelines service on Azure Functions Flex Consumption.
//
// `azd up` deploys it (azure.yaml); docs/deploy.md is the guide: the app registration to
// create first, the azd environment values, health, logs and limits.
//
// What it creates, in one resource group:
//   - a user-assigned managed identity: the app's only credential (storage, telemetry,
//     the deployment package); no account key or connection string anywhere;
//   - a storage account with shared keys off: the Functions host's storage, the
//     deployment package container, the app's tables, containers and step queues;
//   - Log Analytics + Application Insights with local (key) auth off;
//   - a Flex Consumption plan (FC1) and the Function app (Python 3.11);
//   - optional (enableBlobEvents): an Event Grid system topic on the storage account, to
//     which the postdeploy hook of azure.yaml subscribes the function
//     `start_runs_from_events` once the code is deployed (app/events.bicep says why then);
//   - optional (enableRunEvents): an Event Grid custom topic that receives the app's run
//     events, published with the app's identity (app/runevents.bicep).
//   - optional (enableComputeTargets): a Container Apps environment (a GPU workload profile
//     optional; its logs reach Log Analytics through a diagnostic setting), a container
//     registry and one event-driven job per compute target, each with an identity of its own
//     holding storage data roles only, each on one table, container or queue of the app
//     (app/workers.bicep).
// Every role assignment of the app is in app/rbac.bicep; the targets' are in
// app/target-roles.bicep (AcrPull in app/workers.bicep).
//
// Left out on purpose: virtual network integration and private endpoints (storage is
// reached on its public endpoint, with Entra ID auth only); see docs/deploy.md.
targetScope = 'subscription'

// -- environment (azd fills these) ---------------------------------------------------------

@minLength(1)
@maxLength(64)
@description('Name of the azd environment; seeds the unique suffix of every resource name.')
param environmentName string

@minLength(1)
@description('Region of every resource. It must offer Flex Consumption: `az functionapp list-flexconsumption-locations`.')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Resource group to create or reuse; default rg-<environmentName>.')
param resourceGroupName string = ''

@description('Object id of the person (or principal) running azd; only used when grantDeveloperStorageRead is true.')
param principalId string = ''

@allowed([
  'User'
  'ServicePrincipal'
  'Group'
])
@description('Kind of principalId.')
param principalType string = 'User'

@description('Give principalId read-only data access to the storage account (blobs, queues, tables), e.g. for Storage Explorer. Off by default.')
param grantDeveloperStorageRead bool = false

// -- who may call the API (the app registration is created outside Bicep; docs/deploy.md) --

@minLength(36)
@maxLength(36)
@description('Application (client) id of the API\'s app registration: the audience of v2 access tokens.')
param apiClientId string

@description('Application ID URI of the API\'s app registration (the audience of v1 tokens and the scope prefix clients use). Default: api://<apiClientId>.')
param apiAppIdUri string = ''

@description('Comma-separated tenant ids whose tokens are accepted. Default: the tenant of this subscription.')
param allowedTenantIds string = ''

@description('Accept https://management.azure.com tokens from the client ids below (old SDK v1 clients). Off by default; see docs/contract.md section 5.')
param migrationMode bool = false

@description('Comma-separated client application ids allowed to use management tokens while migrationMode is on.')
param migrationClientIds string = ''

@description('Comma-separated roles granted to those tokens; empty keeps the app default (Pipelines.Submit,Pipelines.Read).')
param migrationRoles string = ''

// -- the app -----------------------------------------------------------------------------

@minValue(1)
@maxValue(1000)
@description('Most instances the app may scale out to (Flex Consumption allows up to 1000).')
param maximumInstanceCount int = 100

@allowed([
  512
  2048
  4096
])
@description('Memory of each instance, in MB; CPU is allotted in proportion. Steps run as child processes, several at once per instance (host.json queues.batchSize + newBatchThreshold).')
param instanceMemoryMB int = 2048

@minLength(3)
@maxLength(49)
@description('Queue of step messages; <name>-poison is its poison queue, <name>-notify the run events\' nudges, <name>-sinks their deliveries to one sink (app setting PIPELINES_STEPS_QUEUE).')
param stepsQueueName string = 'pipeline-steps'

// host.json has "functionTimeout": "00:30:00": the host ends an invocation that runs
// longer. 25 minutes lets the worker stop the step itself, record it as timed out and
// upload its logs and outputs before the host would cut the invocation.
@minValue(60)
@maxValue(1680)
@description('Default timeout of a step, in seconds (app setting PIPELINES_STEP_TIMEOUT_SECONDS). Keep it under host.json functionTimeout (30 min).')
param stepTimeoutSeconds int = 1500

@description('Public base URL of the API if it sits behind a gateway (app setting PIPELINES_PUBLIC_BASE_URL); empty: taken from each request.')
param publicBaseUrl string = ''

@description('More app settings (name: value), e.g. PIPELINES_MAX_SNAPSHOT_BYTES. The settings this template sets win over these.')
param additionalAppSettings object = {}

@allowed([
  'Standard_LRS'
  'Standard_ZRS'
])
@description('Redundancy of the storage account: LRS (cheapest) or ZRS (survives the loss of a zone, where the region has zones).')
param storageSkuName string = 'Standard_LRS'

@minValue(30)
@maxValue(730)
@description('Days Log Analytics (and so Application Insights) keeps logs.')
param logRetentionInDays int = 30

// -- runs from events (optional; docs/deploy.md, "Runs from events") ----------------------

@description('Create an Event Grid system topic on the storage account; the postdeploy hook then subscribes the function start_runs_from_events to its BlobCreated events. Off by default.')
param enableBlobEvents bool = false

// -- run events out (optional; docs/deploy.md, "Run events to Event Grid") ---------------

@description('Create an Event Grid custom topic for the app\'s run events (RunQueued, RunStarted, RunFinished, RunFailed, RunCanceled) and let the app\'s identity publish to it. Off by default.')
param enableRunEvents bool = false

@description('Publish each step\'s events too (StepStarted, StepFinished, StepFailed, StepCanceled): app setting PIPELINES_EVENTS_STEPS.')
param runEventsPerStep bool = false

// -- compute targets (optional; docs/deploy.md, "Compute targets") -------------------------

@description('Create a Container Apps environment and one event-driven job per entry of computeTargets, running the standalone worker on that target\'s queue (app/workers.bicep). Off by default: nothing changes for an existing deployment.')
param enableComputeTargets bool = false

@description('Compute targets: [{ name, image, cpu, memory, gpu, maxExecutions, stepTimeoutSeconds, concurrency? }] (app/workers.bicep). An empty image: the registry\'s pipelines-worker[-gpu]:latest, which azd builds and pushes.')
param computeTargets array = []

@description('Add a serverless GPU workload profile to the Container Apps environment (targets with gpu: true).')
param enableGpuProfile bool = false

@allowed([
  'Consumption-GPU-NC8as-T4'
  'Consumption-GPU-NC24-A100'
])
@description('The GPU workload profile\'s type.')
param gpuProfileType string = 'Consumption-GPU-NC8as-T4'

@description('Create a container registry for the worker images (azd pushes them there). False: every target names an image it can pull.')
param createContainerRegistry bool = true

// -- optional names (default: <abbreviation><unique suffix>) -------------------------------

param functionAppName string = ''
param appServicePlanName string = ''
param identityName string = ''
param storageAccountName string = ''
param logAnalyticsName string = ''
param applicationInsightsName string = ''
@description('Name of the Event Grid system topic (enableBlobEvents). Set it to the name of the account\'s existing system topic, if it has one: an account can have only one.')
param eventGridSystemTopicName string = ''
@description('Name of the Event Grid custom topic of run events (enableRunEvents).')
param runEventsTopicName string = ''
param containerAppsEnvironmentName string = ''
param containerRegistryName string = ''

// -- names -----------------------------------------------------------------------------------

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}
var appName = !empty(functionAppName) ? functionAppName : 'func-pipelines-${resourceToken}'
// The Flex Consumption deployment package lives in this blob container.
var deploymentContainerName = 'app-package-${uniqueString(appName, resourceToken)}'
var blobEventsTopicName = !empty(eventGridSystemTopicName) ? eventGridSystemTopicName : 'egst-${resourceToken}'
var runEventsName = !empty(runEventsTopicName) ? runEventsTopicName : 'egt-${resourceToken}'

// -- authentication settings ---------------------------------------------------------------

var appIdUri = !empty(apiAppIdUri) ? apiAppIdUri : 'api://${apiClientId}'
var tenantIds = !empty(allowedTenantIds) ? allowedTenantIds : subscription().tenantId
// v1 tokens carry the application ID URI as `aud`, v2 tokens the client id: accept both.
var authSettings = {
  PIPELINES_AUTH_TENANT_IDS: tenantIds
  PIPELINES_AUTH_AUDIENCES: '${appIdUri},${apiClientId}'
}
// Written only when migration mode is on, so the app's defaults apply otherwise.
var migrationModeSettings = {
  PIPELINES_AUTH_MIGRATION_MODE: 'true'
  PIPELINES_AUTH_MIGRATION_CLIENT_IDS: migrationClientIds
}
var migrationRolesSetting = {
  PIPELINES_AUTH_MIGRATION_ROLES: migrationRoles
}
var migrationSettings = migrationMode ? union(migrationModeSettings, empty(migrationRoles) ? {} : migrationRolesSetting) : {}

// PYTHON_THREADPOOL_THREAD_COUNT: every sync invocation (HTTP, the four queue functions,
// timers) shares the Python worker's one thread pool, min(32, cpus + 4) threads by
// default: 5 on one vCPU, fewer than the 6 messages a queue function may hold (host.json
// batchSize 4 + newBatchThreshold 2). 32 gives each message the host fetches from the
// steps, poison, notify and sinks queues a thread (24), and leaves 8 for HTTP and timers.
var coreSettings = {
  PIPELINES_STEPS_QUEUE: stepsQueueName
  PIPELINES_STEP_TIMEOUT_SECONDS: string(stepTimeoutSeconds)
  PYTHON_THREADPOOL_THREAD_COUNT: '32'
}
var publicBaseUrlSetting = {
  PIPELINES_PUBLIC_BASE_URL: publicBaseUrl
}
// Run events: the topic's endpoint (written only when the topic is created), and step events on or off.
var runEventsSettings = enableRunEvents ? {
  PIPELINES_EVENTS_TOPIC_ENDPOINT: runEvents.outputs.endpoint
  PIPELINES_EVENTS_STEPS: runEventsPerStep ? 'true' : 'false'
} : {}
var pipelinesSettings = union(coreSettings, empty(publicBaseUrl) ? {} : publicBaseUrlSetting, authSettings, migrationSettings, runEventsSettings)

// -- resources ---------------------------------------------------------------------------------

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: !empty(resourceGroupName) ? resourceGroupName : 'rg-${environmentName}'
  location: location
  tags: tags
}

module identity 'app/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: !empty(identityName) ? identityName : 'id-pipelines-${resourceToken}'
    location: location
    tags: tags
  }
}

module monitoring 'app/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: !empty(logAnalyticsName) ? logAnalyticsName : 'log-${resourceToken}'
    applicationInsightsName: !empty(applicationInsightsName) ? applicationInsightsName : 'appi-${resourceToken}'
    location: location
    tags: tags
    retentionInDays: logRetentionInDays
  }
}

module storage 'app/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: !empty(storageAccountName) ? storageAccountName : 'st${resourceToken}'
    location: location
    tags: tags
    skuName: storageSkuName
    deploymentContainerName: deploymentContainerName
    queueNames: [
      stepsQueueName
      '${stepsQueueName}-poison'
      '${stepsQueueName}-notify'
      '${stepsQueueName}-notify-poison'
      '${stepsQueueName}-sinks'
      '${stepsQueueName}-sinks-poison'
    ]
  }
}

// The custom topic of run events; the app's role on it is in app/rbac.bicep.
module runEvents 'app/runevents.bicep' = if (enableRunEvents) {
  name: 'runEvents'
  scope: rg
  params: {
    name: runEventsName
    location: location
    tags: tags
  }
}

module rbac 'app/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    storageAccountName: storage.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    appPrincipalId: identity.outputs.principalId
    developerPrincipalId: grantDeveloperStorageRead ? principalId : ''
    developerPrincipalType: principalType
    runEventsTopicName: enableRunEvents ? runEvents.outputs.name : ''
  }
}

module api 'app/api.bicep' = {
  name: 'api'
  scope: rg
  params: {
    name: appName
    planName: !empty(appServicePlanName) ? appServicePlanName : 'plan-${resourceToken}'
    location: location
    tags: tags
    storageAccountName: storage.outputs.name
    deploymentContainerName: deploymentContainerName
    applicationInsightsConnectionString: monitoring.outputs.applicationInsightsConnectionString
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    appSettings: union(additionalAppSettings, pipelinesSettings)
  }
  // The host reaches storage with the identity as soon as the site exists: let the
  // role assignments come first (Entra may still take a few minutes to apply them).
  dependsOn: [
    rbac
  ]
}

// Only the topic: its event subscription needs the deployed function and its key, so the
// postdeploy hook (azure.yaml, infra/hooks/) creates it after `azd deploy`.
module events 'app/events.bicep' = if (enableBlobEvents) {
  name: 'events'
  scope: rg
  params: {
    name: blobEventsTopicName
    location: location
    tags: tags
    storageAccountName: storage.outputs.name
  }
}

// The standalone workers of the compute targets: their own identities, only storage data roles.
module workers 'app/workers.bicep' = if (enableComputeTargets) {
  name: 'workers'
  scope: rg
  params: {
    location: location
    tags: tags
    resourceToken: resourceToken
    environmentName: !empty(containerAppsEnvironmentName) ? containerAppsEnvironmentName : 'cae-${resourceToken}'
    logAnalyticsName: monitoring.outputs.logAnalyticsName
    storageAccountName: storage.outputs.name
    stepsQueueName: stepsQueueName
    // The app's prefix of table and container names, if additionalAppSettings sets one: the
    // targets' roles name those tables and containers.
    namePrefix: additionalAppSettings.?PIPELINES_NAME_PREFIX ?? ''
    computeTargets: computeTargets
    enableGpuProfile: enableGpuProfile
    gpuProfileType: gpuProfileType
    createRegistry: createContainerRegistry
    registryName: containerRegistryName
  }
}

// -- outputs (azd writes them to .azure/<env>/.env; `azd env get-values` prints them) ------

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = subscription().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = api.outputs.name
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output APPLICATIONINSIGHTS_NAME string = monitoring.outputs.applicationInsightsName
output SERVICE_API_NAME string = api.outputs.name
output SERVICE_API_URI string = api.outputs.uri
// The app's identity: grant it data roles on storage accounts registered as datastores.
output SERVICE_API_IDENTITY_NAME string = identity.outputs.name
output SERVICE_API_IDENTITY_PRINCIPAL_ID string = identity.outputs.principalId
// What the project's client and CLI read (pipelines/client/workspace.py).
output PIPELINES_BASE_URL string = api.outputs.uri
output PIPELINES_AUDIENCE string = appIdUri
// The topic the postdeploy hook subscribes the function to; empty when enableBlobEvents is
// off (the hook is then off too: it reads PIPELINES_BLOB_EVENTS, this parameter's source).
output AZURE_EVENTGRID_SYSTEM_TOPIC_NAME string = enableBlobEvents ? blobEventsTopicName : ''
// The custom topic of run events (enableRunEvents): subscribe to it to receive them.
output AZURE_RUN_EVENTS_TOPIC_ID string = enableRunEvents ? runEvents.outputs.id : ''
// Compute targets (enableComputeTargets): azd pushes the worker images to this registry.
output AZURE_CONTAINER_REGISTRY_ENDPOINT string = enableComputeTargets ? workers.outputs.registryEndpoint : ''
output AZURE_CONTAINER_APPS_ENVIRONMENT_NAME string = enableComputeTargets ? workers.outputs.environmentName : ''
