// Compute targets (issue 16): the steps of a remote target run on the standalone worker
// (pipelines/worker/standalone.py) as Container Apps jobs, one job per target, started by
// KEDA when the target's queue has messages. Deployed by main.bicep when enableComputeTargets.
//
// What it creates:
//   - a Container Apps environment with workload profiles: Consumption, and optionally a GPU
//     profile (serverless GPU, NVIDIA T4 or A100) for targets with gpu: true. Its logs go to
//     Azure Monitor, and a diagnostic setting sends them to the Log Analytics workspace: no
//     workspace key is read or stored;
//   - the app's tables and blob containers (the app also creates them at run time; declared here
//     so that role assignments can name them), and per target its queue and -poison queue;
//   - per target: a user-assigned identity of its own, and an event-driven job whose scale rule
//     (`azure-queue`) watches the target's queue `<stepsQueueName>-<name>` with that identity;
//     each execution runs `python -m pipelines.worker.standalone --target <name> --exit-when-idle`
//     (it exits once the queue is drained), for at most the target's step timeout (+ allowance);
//   - optional: a container registry (createRegistry) the jobs pull from with their identities.
//
// Isolation: a job's identity holds storage data roles only (app/rbac.bicep's app roles are not
// given to it), each scoped to one table, container or queue of the app (app/target-roles.bicep
// lists them and says why each is needed). None reaches the Flex Consumption package container
// (app-package-*), the host's containers (azure-webjobs-*) or other tables, containers and queues
// of the account. It holds no role on the Function app, its settings or its identity, and no
// Application Insights or Event Grid role. It gets no connection string or key: endpoints and its
// client id only. docs/deploy.md, "What a step can reach".

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

@description('PIPELINES_NAME_PREFIX of the app, if any: the workers, and the tables and containers declared here, must be named alike.')
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
  acrPull: '7f951dda-4ed3-4680-a7ca-43fe172d538d'
}

// The app's tables and containers, as `StorageAccount.ensure` names and creates them
// (TABLES, CONTAINERS and Settings.table_name / container_name in pipelines/store/account.py
// and pipelines/settings.py). Keep them in step: the worker creates every one of them when it
// starts, and a table or container without a role here stops it with 403.
// Every table of the app (pipelines/store/account.py, TABLES) but RunCallbacks, which holds the
// tokens of Azure DevOps jobs and the keys that sign log links, and is read by the app alone
// (APP_ONLY_TABLES).
var tableBases = [
  'Pipelines'
  'Endpoints'
  'Runs'
  'RunIndex'
  'Experiments'
  'Idempotency'
  'Datasets'
  'Datastores'
  'Triggers'
  'Schedules'
  'RunEvents'
  'StepReuse'
  'ComputeTargets'
  'ComputeTargetUses'
]
var containerBases = [
  'snapshots'
  'graphs'
  'runs'
  'workspaceblobstore'
]
var tableNames = [for base in tableBases: '${namePrefix}${base}']
var containerNames = [for base in containerBases: empty(namePrefix) ? base : '${namePrefix}-${base}']
var runsContainerName = empty(namePrefix) ? 'runs' : '${namePrefix}-runs'
// Created by app/storage.bicep; the worker creates them again at start and sends to them.
var appQueueNames = [
  stepsQueueName
  '${stepsQueueName}-poison'
  '${stepsQueueName}-notify'
  '${stepsQueueName}-sinks'
]

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
    // Azure Monitor: the diagnostic setting below routes the logs. ('log-analytics' would need
    // the workspace's shared key in this resource.)
    appLogsConfiguration: {
      destination: 'azure-monitor'
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

// The workers' stdout and stderr (ContainerAppConsoleLogs) and the environment's own events,
// e.g. KEDA's and the jobs' executions (ContainerAppSystemLogs), in the Log Analytics workspace.
resource environmentLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: containerEnvironment
  properties: {
    workspaceId: logAnalytics.id
    logs: [
      {
        category: 'ContainerAppConsoleLogs'
        enabled: true
      }
      {
        category: 'ContainerAppSystemLogs'
        enabled: true
      }
    ]
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' existing = {
  parent: storage
  name: 'default'
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' existing = {
  parent: storage
  name: 'default'
}

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' existing = {
  parent: storage
  name: 'default'
}

resource appTables 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = [
  for name in tableNames: {
    parent: tableService
    name: name
  }
]

resource appContainers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = [
  for name in containerNames: {
    parent: blobService
    name: name
    properties: {
      publicAccess: 'None'
    }
  }
]

// Each target's queue and its poison queue (the app creates them too, when the target is written).
resource targetStepQueues 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = [
  for target in computeTargets: {
    parent: queueService
    name: '${stepsQueueName}-${toLower(target.name)}'
  }
]

resource targetPoisonQueues 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = [
  for target in computeTargets: {
    parent: queueService
    name: '${stepsQueueName}-${toLower(target.name)}-poison'
  }
]

resource targetIdentities 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = [
  for target in computeTargets: {
    name: 'id-target-${toLower(target.name)}-${resourceToken}'
    location: location
    tags: tags
  }
]

// Each target's identity: storage data roles on the app's tables, containers and queues, one
// assignment per resource, and nothing else of the app's (app/target-roles.bicep).
module targetRoles 'target-roles.bicep' = [
  for (target, i) in computeTargets: {
    name: 'target-roles-${toLower(target.name)}'
    params: {
      storageAccountName: storageAccountName
      principalId: targetIdentities[i].properties.principalId
      identityId: targetIdentities[i].id
      tableNames: tableNames
      containerNames: containerNames
      writableContainerName: runsContainerName
      targetQueueName: '${stepsQueueName}-${toLower(target.name)}'
      appQueueNames: appQueueNames
      handOffQueuePrefix: '${stepsQueueName}-'
    }
    dependsOn: [
      appTables
      appContainers
      targetStepQueues
      targetPoisonQueues
    ]
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
      targetRoles
      targetPull
    ]
  }
]

output environmentName string = containerEnvironment.name
output registryName string = createRegistry ? registry.name : ''
output registryEndpoint string = registryServer
output jobNames array = [for (target, i) in computeTargets: jobs[i].name]
output identityPrincipalIds array = [for (target, i) in computeTargets: targetIdentities[i].properties.principalId]
