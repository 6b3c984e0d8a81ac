// Log Analytics and a workspace-based Application Insights, both with local (key)
// authentication off: telemetry is accepted only with an Entra token, which the host gets
// for the app's identity (APPLICATIONINSIGHTS_AUTHENTICATION_STRING, set in app/api.bicep;
// the Monitoring Metrics Publisher role is in app/rbac.bicep).

param logAnalyticsName string
param applicationInsightsName string
param location string
param tags object = {}
param retentionInDays int = 30

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: retentionInDays
    features: {
      // Access follows the Azure RBAC of each resource (e.g. Reader on the Function app
      // lets a person read that app's logs), not only of the whole workspace.
      enableLogAccessUsingOnlyResourcePermissions: true
      // No access with the workspace's shared keys (Data Collector API, agents): Entra ID only.
      // Neither writer uses them: Application Insights ingests on its own (Entra) endpoint,
      // the Container Apps environment (app/workers.bicep) through a diagnostic setting.
      disableLocalAuth: true
    }
  }
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: applicationInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logAnalytics.id
    DisableLocalAuth: true
  }
}

output logAnalyticsName string = logAnalytics.name
output applicationInsightsName string = applicationInsights.name
// The connection string itself (not the resource name): it is what
// APPLICATIONINSIGHTS_CONNECTION_STRING must hold. It is not a secret: with local
// auth off, ingestion also needs an Entra token.
output applicationInsightsConnectionString string = applicationInsights.properties.ConnectionString
