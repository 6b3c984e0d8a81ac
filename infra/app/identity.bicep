// The app's user-assigned managed identity: its only credential. The host (AzureWebJobsStorage),
// the app's own storage clients, the Flex Consumption deployment and Application Insights
// all authenticate as this identity; app/rbac.bicep grants it its roles.
//
// User-assigned rather than system-assigned so that the role assignments exist before the
// Function app does (no first start without permissions), and survive re-creating the app.

param name string
param location string
param tags object = {}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output name string = identity.name
output principalId string = identity.properties.principalId
output clientId string = identity.properties.clientId
