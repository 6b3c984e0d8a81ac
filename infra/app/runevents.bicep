// Optional (main.bicep, enableRunEvents): an Event Grid custom topic that receives the app's run
// events (docs/architecture.md, "Run events"): Pipelines.RunQueued, RunStarted, RunFinished,
// RunFailed, RunCanceled (and the steps' events with PIPELINES_EVENTS_STEPS=true), as CloudEvents 1.0.
//
// The app publishes with its managed identity: the topic has local (key) auth off, and the
// `EventGrid Data Sender` role on it is assigned in app/rbac.bicep, with every other role.
// Subscribers (a Logic App, a Function, a Service Bus queue, a webhook, ...) are yours to add:
// `az eventgrid event-subscription create --source-resource-id <topic id> ...` (docs/deploy.md).

@description('Name of the custom topic.')
param name string
param location string
param tags object = {}

resource topic 'Microsoft.EventGrid/topics@2025-02-15' = {
  name: name
  location: location
  tags: tags
  properties: {
    // The app sends CloudEvents; a topic takes only the schema it was created with.
    inputSchema: 'CloudEventSchemaV1_0'
    // Entra ID only: no access key exists to leak.
    disableLocalAuth: true
    publicNetworkAccess: 'Enabled'
  }
}

output name string = topic.name
output id string = topic.id
// https://<name>.<region>-1.eventgrid.azure.net/api/events: the app setting PIPELINES_EVENTS_TOPIC_ENDPOINT.
output endpoint string = topic.properties.endpoint
