// The one storage account: the Functions host's own storage (AzureWebJobsStorage), the
// Flex Consumption deployment package, and the app's data (tables, blob containers, the
// step queues). Only Entra ID (managed identity) access: shared keys are off, so no
// connection string with a key exists to leak.
//
// The app creates its tables and containers itself, idempotently, when it starts
// (pipelines/store/account.py, `StorageAccount.ensure`), and it alone knows their names
// (PIPELINES_NAME_PREFIX). Only the step queues are created here as well: the queue
// triggers listen to them from the first second, before the app's first call.

param name string
param location string
param tags object = {}

@description('Blob container of the Flex Consumption deployment package.')
param deploymentContainerName string

@description('Queues to create: the step queue and its poison queue.')
param queueNames array = []

@allowed([
  'Standard_LRS'
  'Standard_ZRS'
])
@description('Redundancy: three copies in one datacenter (LRS) or across the region\'s availability zones (ZRS).')
param skuName string = 'Standard_LRS'

@description('Days a deleted or overwritten blob, or a deleted container, can be restored.')
param softDeleteRetentionDays int = 7

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: skuName
  }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    allowCrossTenantReplication: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    dnsEndpointType: 'Standard'
    // No virtual network in this template (see main.bicep): the public endpoint stays
    // open and every request needs an Entra token with a data role on this account.
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
  properties: {
    // Snapshots, published graphs and run outputs are the service's records: a mistaken
    // delete or overwrite can be undone for a few days.
    deleteRetentionPolicy: {
      enabled: true
      days: softDeleteRetentionDays
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: softDeleteRetentionDays
    }
  }
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource queues 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = [
  for queueName in queueNames: {
    parent: queueService
    name: queueName
  }
]

output name string = storage.name
output id string = storage.id
output blobEndpoint string = storage.properties.primaryEndpoints.blob
output queueEndpoint string = storage.properties.primaryEndpoints.queue
output tableEndpoint string = storage.properties.primaryEndpoints.table
