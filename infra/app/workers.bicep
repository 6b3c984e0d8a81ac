// Compute targets (issue 16): the steps of a remote target run on the standalone worker
// (pipelines/worker/standalone.py) as Container Apps jobs, one job per target, started by
// KEDA when the target's queue has messages. Deployed by main.bicep when enableComputeTargets.
//
// What it creates:
//   - a Container Apps environment with workload profiles: Consumption, and optionally a GPU
//     profile (serverless GPU, NVIDIA T4 or A100) for targets with gpu: true;
//   - per target: a user-assigned identity of its own, and an event-driven job whose scale rule
//     (`azure-queue`) watches the target's queue `<stepsQueueName>-<name>` with that identity;
//     each execution runs `python -m pipelines.worker.standalone --target <name> --exit-when-idle`
//     (it exits once the queue is drained), for at most the target's step timeout (+ allowance);
//   - optional: a container registry (createRegistry) the jobs pull from with their identities.
//
// Isolation: a job's identity holds storage data roles only (app/rbac.bicep's app roles are not
// given to it): Queue Data Contributor, Table Data Contributor and Blob Data Contributor on the
// account (see the notes at `roles` for why not narrower). It holds no role on the Function app,
// its settings or its identity, and no Application Insights or Event Grid role. It gets no
// connection string or key: endpoints and its client id only. docs/deploy.md, "What a step can reach".

param location string
param tags object = {}

@description('Suffix of the resources\' names (main.bicep\'s resourceToken).')
param resourceToken string

@description('Name of the Container Apps environment.')
param environmentName string

@description('Log Analytics workspace of the environment\'s logs (main.bicep\'s monitoring).')
param logAnalyticsName string

@description('The storage account of the app (its queues, tables and containers).')
param storageAccountName string

@description('The steps queue of the app; a target\'s queue is <stepsQueueName>-<target name>.')
param stepsQueueName string

@description('PIPELINES_NAME_PREFIX of the app, if any: the workers must name tables and containers alike.')
param namePrefix string = ''

@description('''Compute targets, one job each: [{ name, image, cpu, memory, gpu, maxExecutions, stepTimeoutSeconds,
concurrency? }]. name: lower-case letters, digits and dashes (the queue suffix); image: a full image reference
(empty: the registry's pipelines-worker[-gpu]:latest); cpu, e.g. 1.0; memory, e.g. '2Gi'; maxExecutions: most
executions at once; stepTimeoutSeconds: the longest step the target runs.''')
param computeTargets array = []

@description('Add a GPU workload profile to the environment, for targets with gpu: true.')
param enableGpuProfile bool = false

@allowed([
  'Consumption-GPU-NC8as-T4'
  'Consumption-GPU-NC24-A100'
])
@description('Serverless GPU profile type of the GPU workload profile.')
param gpuProfileType string = 'Consumption-GPU-NC8as-T4'

@description('Create an Azure Container Registry for the worker images (azd pushes them there); false: every target names a public or otherwise pullable image.')
param createRegistry bool = true

@description('Name of the registry (createRegistry).')
param registryName string = ''

// Container Apps gives a stopping replica 30 s (its default termination grace) before SIGKILL:
// the worker needs --grace + 10 s (ABANDON_SECONDS) to abandon what still runs cleanly.
@description('Seconds a stopping execution gets for its running steps (the worker\'s --grace); keep it + 10 s under the replica\'s termination grace (30 s by default).')
param graceSeconds int = 15

var gpuProfileName = 'gpu'
var acrName = !empty(registryName) ? registryName : 'cr${resourceToken}'
var registryServer = createRegistry ? registry.properties.loginServer : ''
var queueEndpoint = 'https://${storageAccountName}.queue.${environment().suffixes.storage}'
var tableEndpoint = 'https://${storageAccountName}.table.${environment().suffixes.storage}'
var blobEndpoint = 'https://${storageAccountName}.blob.${environment().suffixes.storage}'
// Between the longest step and the replica's end: staging its inputs and uploading its outputs
// (the worker's STAGING_ALLOWANCE_SECONDS) and the shutdown grace.
var replicaAllowanceSeconds = 60 + graceSeconds + 10

var roles = {
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  acrPull: '7f951dda-4ed3-4680-a7ca-43fe172d538d'
}
// Why these and not narrower:
// - Queue Data Contributor at the account: the worker receives, updates and deletes its target's
//   messages, moves failed ones to `-poison`, and sends the messages of the steps a finished step
//   makes ready, which may be any target's queue. Queue-level scoping (a role on
//   queueServices/default/queues/<name>) would confine it to its own queue and its poison queue,
//   but would break that hand-off; the KEDA scaler needs only read (queue metadata).
// - Table Data Contributor: the run tables (claims, leases, outcomes) and the catalogue it reads;
//   table names carry the app's prefix and are created at run time, so no table-level scope.
// - Blob Data Contributor (not Owner): snapshots and graphs are read, run logs and outputs and
//   datastore files written; containers carry the prefix too, so the scope is the account.

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: logAnalyticsName
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' = if (createRegistry) {
  name: acrName
  location: location
  tags: tags
  sku: {
    name: 'Basic'
  }
  properties: {
    adminUserEnabled: false // pulls with the jobs' identities, pushes with the developer's login
    anonymousPullEnabled: false
  }
}

resource containerEnvironment 'Microsoft.App/managedEnvironments@2024-03-01' = {
  name: environmentName
  location: location
  tags: tags
  properties: {
    appLogsConfiguration: {
      destination: 'log-analytics'
      logAnalyticsConfiguration: {
        customerId: logAnalytics.properties.customerId
        sharedKey: logAnalytics.listKeys().primarySharedKey
      }
    }
    workloadProfiles: concat([
      {
        name: 'Consumption'
        workloadProfileType: 'Consumption'
      }
    ], enableGpuProfile ? [
      {
        name: gpuProfileName
        workloadProfileType: gpuProfileType
      }
    ] : [])
  }
}

resource targetIdentities 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = [
  for target in computeTargets: {
    name: 'id-target-${toLower(target.name)}-${resourceToken}'
    location: location
    tags: tags
  }
]

// Each target's identity: the storage data roles above, and nothing else of the app's.
resource targetQueues 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for (target, i) in computeTargets: {
    name: guid(storage.id, target.name, resourceToken, roles.storageQueueDataContributor)
    scope: storage
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataContributor)
      principalId: targetIdentities[i].properties.principalId
      principalType: 'ServicePrincipal'
    }
  }
]

resource targetTables 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for (target, i) in computeTargets: {
    name: guid(storage.id, target.name, resourceToken, roles.storageTableDataContributor)
    scope: storage
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageTableDataContributor)
      principalId: targetIdentities[i].properties.principalId
      principalType: 'ServicePrincipal'
    }
  }
]

resource targetBlobs 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for (target, i) in computeTargets: {
    name: guid(storage.id, target.name, resourceToken, roles.storageBlobDataContributor)
    scope: storage
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
      principalId: targetIdentities[i].properties.principalId
      principalType: 'ServicePrincipal'
    }
  }
]

resource targetPull 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for (target, i) in computeTargets: if (createRegistry) {
    name: guid(acrName, target.name, resourceToken, roles.acrPull)
    scope: registry
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.acrPull)
      principalId: targetIdentities[i].properties.principalId
      principalType: 'ServicePrincipal'
    }
  }
]

resource jobs 'Microsoft.App/jobs@2024-03-01' = [
  for (target, i) in computeTargets: {
    // Job names: at most 32 characters.
    name: take('caj-${toLower(target.name)}-${resourceToken}', 32)
    location: location
    tags: union(tags, { 'pipelines-compute-target': target.name })
    identity: {
      type: 'UserAssigned'
      userAssignedIdentities: {
        '${targetIdentities[i].id}': {}
      }
    }
    properties: {
      environmentId: containerEnvironment.id
      workloadProfileName: target.gpu ? gpuProfileName : 'Consumption'
      configuration: {
        triggerType: 'Event'
        replicaTimeout: target.stepTimeoutSeconds + replicaAllowanceSeconds
        // A lost execution's step is taken over by the next one (its lease expires): no retry here.
        replicaRetryLimit: 0
        eventTriggerConfig: {
          parallelism: 1
          replicaCompletionCount: 1
          scale: {
            minExecutions: 0
            maxExecutions: target.maxExecutions
            pollingInterval: 10
            rules: [
              {
                name: 'steps-queue'
                type: 'azure-queue'
                metadata: {
                  accountName: storageAccountName
                  queueName: '${stepsQueueName}-${toLower(target.name)}'
                  queueLength: '1'
                }
                // KEDA reads the queue's length as the job's own identity: no connection string.
                identity: targetIdentities[i].id
              }
            ]
          }
        }
        registries: createRegistry ? [
          {
            server: registryServer
            identity: targetIdentities[i].id
          }
        ] : []
      }
      template: {
        containers: [
          {
            name: 'worker'
            image: !empty(target.image) ? target.image : '${registryServer}/pipelines-worker${target.gpu ? '-gpu' : ''}:latest'
            args: [
              '--target'
              toLower(target.name)
              '--concurrency'
              string(target.?concurrency ?? 1)
              '--grace'
              string(graceSeconds)
              '--exit-when-idle'
              '30'
            ]
            resources: {
              cpu: json(string(target.cpu))
              memory: target.memory
            }
            // Endpoints and the identity's client id: never a key or a connection string.
            env: [
              { name: 'AzureWebJobsStorage__queueServiceUri', value: queueEndpoint }
              { name: 'AzureWebJobsStorage__tableServiceUri', value: tableEndpoint }
              { name: 'AzureWebJobsStorage__blobServiceUri', value: blobEndpoint }
              { name: 'AzureWebJobsStorage__credential', value: 'managedidentity' }
              { name: 'AzureWebJobsStorage__clientId', value: targetIdentities[i].properties.clientId }
              { name: 'AZURE_CLIENT_ID', value: targetIdentities[i].properties.clientId }
              { name: 'PIPELINES_STEPS_QUEUE', value: stepsQueueName }
              { name: 'PIPELINES_NAME_PREFIX', value: namePrefix }
              { name: 'PIPELINES_WORKER_TARGET', value: toLower(target.name) }
              { name: 'PIPELINES_STEP_TIMEOUT_SECONDS', value: string(target.stepTimeoutSeconds) }
              { name: 'PIPELINES_MAX_STEP_TIMEOUT_SECONDS', value: string(target.stepTimeoutSeconds) }
            ]
            probes: [
              {
                type: 'Liveness'
                httpGet: {
                  path: '/healthz'
                  port: 8080
                }
                initialDelaySeconds: 10
                periodSeconds: 30
                failureThreshold: 3
              }
            ]
          }
        ]
      }
    }
    dependsOn: [
      targetQueues
      targetTables
      targetBlobs
      targetPull
    ]
  }
]

output environmentName string = containerEnvironment.name
output registryName string = createRegistry ? registry.name : ''
output registryEndpoint string = registryServer
output jobNames array = [for (target, i) in computeTargets: jobs[i].name]
output identityPrincipalIds array = [for (target, i) in computeTargets: targetIdentities[i].properties.principalId]
