// Every role assignment of the deployment, in one place.
//
// Names are deterministic, guid(scope, principal, role): re-running `azd provision` finds
// the same assignments instead of failing with RoleAssignmentExists or piling up copies.
// principalType is set so that a freshly created identity is not rejected while Entra ID
// is still replicating it (PrincipalNotFound).
//
// Built-in role definition ids (the same in every tenant):
//   b7e6dc6d-f1e8-4753-8033-0f276bb0955b  Storage Blob Data Owner
//   974c5e8b-45b9-4653-ba55-5f855dd0fb88  Storage Queue Data Contributor
//   0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3  Storage Table Data Contributor
//   3913510d-42f4-4e42-8a64-420c390055eb  Monitoring Metrics Publisher
//   d5a91429-5739-47e2-a06b-3470a27159e7  EventGrid Data Sender          (optional, run events)
//   2a2b9908-6ea1-4ae2-8e65-a410df84e7d1  Storage Blob Data Reader       (optional, a developer)
//   19e7f393-937e-4f77-808e-94535e297925  Storage Queue Data Reader      (optional, a developer)
//   76199698-9eea-4c19-bc75-cec21354c6b6  Storage Table Data Reader      (optional, a developer)
//
// Why these and not narrower ones:
// - Blob Data Owner, not Contributor: the Functions documentation asks for it for an
//   identity-based AzureWebJobsStorage (the host keeps its keys, timer schedules and
//   locks in blobs), and the same identity reads the Flex Consumption deployment
//   package. The app's containers (snapshots, graphs, runs, datastores) need Contributor
//   at least.
// - Queue Data Contributor: a queue trigger alone would do with Queue Data Reader
//   (19e7f393-937e-4f77-808e-94535e297925) + Queue Data Message Processor
//   (8a0f0c08-91a1-4084-bc3d-661d67233fed), and sending with Queue Data Message Sender
//   (c6a89b2d-59bc-44d0-9896-0f6e12d7b80a); but the app also creates its queues
//   (queueServices/queues/write) and the host creates and fills the poison queue. Only
//   Contributor has all of that.
// - Table Data Contributor: the app creates its tables and reads and writes entities.
// - Monitoring Metrics Publisher on Application Insights: telemetry with Entra auth
//   (local auth is off on the component).
// - EventGrid Data Sender on the run events' custom topic (enableRunEvents), and only there:
//   it publishes events and can do nothing else with the topic.
// All at the storage account's scope: the app's container and table names carry an
// optional prefix (PIPELINES_NAME_PREFIX) and are created at run time.

param storageAccountName string
param applicationInsightsName string

@description('Principal (object) id of the Function app\'s user-assigned identity.')
param appPrincipalId string

@description('Object id of a person or principal to give read-only storage data access; empty for none.')
param developerPrincipalId string = ''

@description('Name of the Event Grid custom topic of run events (main.bicep enableRunEvents); empty for none.')
param runEventsTopicName string = ''

@allowed([
  'User'
  'ServicePrincipal'
  'Group'
])
param developerPrincipalType string = 'User'

var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
  storageBlobDataReader: '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1'
  storageQueueDataReader: '19e7f393-937e-4f77-808e-94535e297925'
  storageTableDataReader: '76199698-9eea-4c19-bc75-cec21354c6b6'
  eventGridDataSender: 'd5a91429-5739-47e2-a06b-3470a27159e7'
}

var appStorageRoles = [
  roles.storageBlobDataOwner
  roles.storageQueueDataContributor
  roles.storageTableDataContributor
]

var developerStorageRoles = [
  roles.storageBlobDataReader
  roles.storageQueueDataReader
  roles.storageTableDataReader
]

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

// A placeholder name when there is no topic: the reference is then never used.
resource runEventsTopic 'Microsoft.EventGrid/topics@2025-02-15' existing = {
  name: !empty(runEventsTopicName) ? runEventsTopicName : 'no-run-events-topic'
}

// The app's identity: host storage, deployment package, the app's data.
resource appStorage 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for roleId in appStorageRoles: {
    name: guid(storage.id, appPrincipalId, roleId)
    scope: storage
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
      principalId: appPrincipalId
      principalType: 'ServicePrincipal'
    }
  }
]

// The app's identity: telemetry to Application Insights with Entra auth.
resource appTelemetry 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(applicationInsights.id, appPrincipalId, roles.monitoringMetricsPublisher)
  scope: applicationInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Optional: a developer may look at blobs, queues and tables (Storage Explorer, az storage
// --auth-mode login) but change nothing; changes go through the API.
resource developerStorage 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for roleId in developerStorageRoles: if (!empty(developerPrincipalId)) {
    name: guid(storage.id, developerPrincipalId, roleId)
    scope: storage
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
      principalId: developerPrincipalId
      principalType: developerPrincipalType
    }
  }
]

// Optional: the app's identity publishes run events to their custom topic (app/runevents.bicep).
resource appRunEvents 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(runEventsTopicName)) {
  name: guid(runEventsTopic.id, appPrincipalId, roles.eventGridDataSender)
  scope: runEventsTopic
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.eventGridDataSender)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}
