// The storage data roles of one compute target's identity (app/workers.bicep deploys this once
// per target). Each role is on the one table, container or queue it is for; the only assignment
// at the account's scope is a message-sender role that a condition limits to the steps queues.
// No role reaches the Flex Consumption package (app-package-*), the host's containers
// (azure-webjobs-*) or any other container, table or queue of the account.
//
// What the standalone worker (pipelines/worker/standalone.py) does in storage, and so needs:
// - At start, `get_worker_account()` runs `StorageAccount.ensure` (pipelines/store/account.py):
//   it creates, if absent, every table (TABLES) and container (CONTAINERS) of the app and the
//   steps, -poison, -notify and -sinks queues. Then the worker creates its target's queue and that
//   queue's -poison queue. Create Table, Create Container and Create Queue need
//   tables/write, containers/write and queues/write on the resource itself (an existing one
//   included); the Data Contributor roles are the only built-in roles with them. A refusal
//   stops the worker at start.
// - Tables: Runs and RunIndex (claims, leases, outcomes), StepReuse (reuse decisions); read:
//   Datastores and Datasets (staging inputs), ComputeTargets (with --workspace). Azure ABAC has
//   no conditions for tables: every app table gets Table Data Contributor.
// - Blobs: reads graphs, snapshots and workspaceblobstore; writes step logs and outputs in runs
//   and deletes an earlier attempt's outputs there. The condition below refuses blob writes,
//   creations and deletions in every container but runs.
// - Queues: receives, updates and deletes the messages of its target's queue and of its -poison
//   queue, and moves failed messages to -poison; sends the messages of the steps a finished step
//   makes ready (the steps queue, or another target's `<steps queue>-<name>`) and the run
//   events' nudges (-notify). The conditions below refuse reading, receiving and deleting
//   messages of any other queue.

@description('The storage account of the app.')
param storageAccountName string

@description('Principal (object) id of the target\'s user-assigned identity.')
param principalId string

@description('Resource id of that identity: it names the assignments (a principal id is not known before the deployment).')
param identityId string

@description('Every table of the app (its prefix included).')
param tableNames array

@description('Every blob container of the app (its prefix included).')
param containerNames array

@description('The one container where the worker writes blobs: runs (step logs and outputs).')
param writableContainerName string

@description('The target\'s queue, `<steps queue>-<name>`; its poison queue is that name + -poison.')
param targetQueueName string

@description('The app\'s queues the worker creates at start: the steps queue, its -poison, -notify and -sinks queues.')
param appQueueNames array

@description('Messages may be sent to every queue whose name starts with this: `<steps queue>-`, the other targets\' queues.')
param handOffQueuePrefix string

var roles = {
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageQueueDataMessageSender: 'c6a89b2d-59bc-44d0-9896-0f6e12d7b80a'
}

var targetQueueNames = [
  targetQueueName
  '${targetQueueName}-poison'
]
var queueNames = concat(targetQueueNames, appQueueNames)

// Conditions (Azure ABAC, conditionVersion 2.0): an action listed in the first group is allowed
// only where the expression after OR holds; every other action of the role is unchanged.
var blobDelete = 'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/delete'
var blobWrite = 'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write'
var blobAdd = 'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/add/action'
var containerName = '@Resource[Microsoft.Storage/storageAccounts/blobServices/containers:name]'
// Blob writes, creations and deletions only in the runs container: graphs, snapshots and
// workspaceblobstore stay read-only (the worker only reads them), though each holds Blob Data
// Contributor for the Create Container that its start-up makes.
var blobCondition = '((!(ActionMatches{\'${blobDelete}\'}) AND !(ActionMatches{\'${blobWrite}\'}) AND !(ActionMatches{\'${blobAdd}\'})) OR (${containerName} StringEquals \'${writableContainerName}\'))'

var messagesRead = 'Microsoft.Storage/storageAccounts/queueServices/queues/messages/read'
var messagesDelete = 'Microsoft.Storage/storageAccounts/queueServices/queues/messages/delete'
var messagesProcess = 'Microsoft.Storage/storageAccounts/queueServices/queues/messages/process/action'
var messagesAdd = 'Microsoft.Storage/storageAccounts/queueServices/queues/messages/add/action'
var queueName = '@Resource[Microsoft.Storage/storageAccounts/queueServices/queues:name]'
// Peek, get (receive) and delete messages only in the target's own queue and its -poison queue:
// in the steps, -poison, -notify and -sinks queues of the app the worker creates (and sends to, but -sinks) only.
var consumeCondition = '((!(ActionMatches{\'${messagesRead}\'}) AND !(ActionMatches{\'${messagesProcess}\'}) AND !(ActionMatches{\'${messagesDelete}\'})) OR (${queueName} StringEquals \'${targetQueueNames[0]}\' OR ${queueName} StringEquals \'${targetQueueNames[1]}\'))'
// Put a message only in `<steps queue>-*` queues: the hand-off of a ready step to its target.
var handOffCondition = '((!(ActionMatches{\'${messagesAdd}\'})) OR (${queueName} StringStartsWith \'${handOffQueuePrefix}\'))'

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
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

resource tables 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' existing = [
  for name in tableNames: {
    parent: tableService
    name: name
  }
]

resource containers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = [
  for name in containerNames: {
    parent: blobService
    name: name
  }
]

resource queues 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' existing = [
  for name in queueNames: {
    parent: queueService
    name: name
  }
]

resource tableRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for (table, i) in tableNames: {
    name: guid(tables[i].id, identityId, roles.storageTableDataContributor)
    scope: tables[i]
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageTableDataContributor)
      principalId: principalId
      principalType: 'ServicePrincipal'
      description: 'Compute target worker: this table only.'
    }
  }
]

resource containerRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for (container, i) in containerNames: {
    name: guid(containers[i].id, identityId, roles.storageBlobDataContributor)
    scope: containers[i]
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
      principalId: principalId
      principalType: 'ServicePrincipal'
      description: 'Compute target worker: this container only; blob writes only in ${writableContainerName}.'
      condition: blobCondition
      conditionVersion: '2.0'
    }
  }
]

resource queueRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for (queue, i) in queueNames: {
    name: guid(queues[i].id, identityId, roles.storageQueueDataContributor)
    scope: queues[i]
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataContributor)
      principalId: principalId
      principalType: 'ServicePrincipal'
      description: 'Compute target worker: this queue only; receives only from ${targetQueueName} and its -poison queue.'
      condition: consumeCondition
      conditionVersion: '2.0'
    }
  }
]

resource handOffRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identityId, roles.storageQueueDataMessageSender)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataMessageSender)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'Compute target worker: put messages in ${handOffQueuePrefix}* queues only.'
    condition: handOffCondition
    conditionVersion: '2.0'
  }
}
