// Optional (main.bicep, enableBlobEvents): the Event Grid system topic of the app's storage
// account, which publishes its Blob Storage events (Microsoft.Storage.BlobCreated, ...).
//
// Only the topic is created here. The event subscription that hands the events to the
// function `start_runs_from_events` (pipelines/triggers/functions.py) is created after the code
// is deployed, by the postdeploy hook of azure.yaml (infra/hooks/postdeploy.sh, .ps1):
// on Flex Consumption the function does not exist while this template runs, and Event
// Grid checks its endpoint when the subscription is created (it sends a validation event
// that the host's Event Grid extension must answer). The hook also needs the host's
// `eventgrid_extension` system key, which the host creates only once it has started with
// an Event Grid trigger.
//
// A storage account has at most one system topic: if one exists already (the portal
// creates one when an event subscription is added there), pass its name
// (PIPELINES_BLOB_EVENTS_TOPIC_NAME) so that this template adopts it instead of failing.
//
// No identity and no role: Event Grid delivers to the function's HTTPS webhook, and the
// system key in the URL is what lets it in.

@description('Name of the system topic.')
param name string
param location string
param tags object = {}

@description('The storage account whose events the topic publishes (the app\'s own).')
param storageAccountName string

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource systemTopic 'Microsoft.EventGrid/systemTopics@2025-02-15' = {
  name: name
  // A storage account's system topic lives in the account's region.
  location: location
  tags: tags
  properties: {
    source: storage.id
    topicType: 'Microsoft.Storage.StorageAccounts'
  }
}

output name string = systemTopic.name
output id string = systemTopic.id
