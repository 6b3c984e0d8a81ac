# azd postdeploy hook (azure.yaml), on Windows: subscribe the function
# `start_runs_from_events` to the Blob Storage events of the app's storage account, through
# the Event Grid system topic that infra/app/events.bicep creates when PIPELINES_BLOB_EVENTS
# (enableBlobEvents) is true. infra/hooks/postdeploy.sh does the same elsewhere and says
# why this happens after the deployment and not in Bicep; keep the two alike.
#
# Does nothing when PIPELINES_BLOB_EVENTS is not true. Idempotent: `event-subscription
# create` is a PUT (create or replace). Run it alone with `azd hooks run postdeploy`.
# Needs Azure CLI signed in (`az login`; azd's own sign-in is separate).

# Every az call is checked by its exit code; what az writes to stderr must not stop the
# script (Windows PowerShell turns redirected native stderr into errors).
$ErrorActionPreference = 'Continue'

$FunctionName = 'start_runs_from_events'
$SubscriptionName = 'start-runs-from-events'
$EventTypes = 'Microsoft.Storage.BlobCreated'
# Event Grid's default retry policy, written out: up to 30 attempts within 24 hours.
$MaxDeliveryAttempts = 30
$EventTtlMinutes = 1440
$KeyAttempts = 20
$KeyWaitSeconds = 15
$CreateAttempts = 4
$CreateWaitSeconds = 20

function Say([string] $Message) { Write-Host "postdeploy (blob events): $Message" }
function Fail([string] $Message) {
    [Console]::Error.WriteLine("postdeploy (blob events): $Message")
    exit 1
}

# An azd environment value: from the environment azd gives the hook, else from azd itself.
function Get-EnvValue([string] $Name) {
    $value = [Environment]::GetEnvironmentVariable($Name)
    if (-not $value -and (Get-Command azd -ErrorAction SilentlyContinue)) {
        $value = (& azd env get-value $Name 2>$null)
        if ($LASTEXITCODE -ne 0) { $value = '' }
    }
    if ($value) { return "$value".Trim() }
    return ''
}

# Hides the key in anything printed.
function Hide-Key([string] $Text) { return ($Text -replace '(code=)[^&"\s]+', '$1***') }

if ((Get-EnvValue 'PIPELINES_BLOB_EVENTS').ToLowerInvariant() -ne 'true') {
    Say 'off (PIPELINES_BLOB_EVENTS is not true): nothing to do.'
    exit 0
}

$topic = Get-EnvValue 'AZURE_EVENTGRID_SYSTEM_TOPIC_NAME'
if (-not $topic) {
    Fail "PIPELINES_BLOB_EVENTS is true but no system topic is provisioned yet: run 'azd provision' (or 'azd up'), then 'azd hooks run postdeploy'."
}
$group = Get-EnvValue 'AZURE_RESOURCE_GROUP'
$app = Get-EnvValue 'AZURE_FUNCTION_APP_NAME'
if (-not $group -or -not $app) {
    Fail "AZURE_RESOURCE_GROUP or AZURE_FUNCTION_APP_NAME is empty: run 'azd provision' first."
}

if (-not (Get-Command az -ErrorAction SilentlyContinue)) {
    Fail 'Azure CLI (az) is not installed; it creates the Event Grid subscription.'
}
$subscription = Get-EnvValue 'AZURE_SUBSCRIPTION_ID'
if (-not $subscription) {
    $subscription = (& az account show --query id -o tsv 2>$null)
    if ($LASTEXITCODE -ne 0 -or -not $subscription) {
        Fail "Azure CLI is not signed in: run 'az login', then 'azd hooks run postdeploy'."
    }
    $subscription = "$subscription".Trim()
}
& az account show --subscription $subscription -o none 2>$null
if ($LASTEXITCODE -ne 0) {
    Fail "Azure CLI is not signed in to subscription '$subscription': run 'az login' (and 'az account set -s $subscription'), then 'azd hooks run postdeploy'."
}

# Which blobs: those of the listed containers of the app's account. With
# PIPELINES_NAME_PREFIX set on the app, its own container is <prefix>-workspaceblobstore.
$containers = Get-EnvValue 'PIPELINES_BLOB_EVENTS_CONTAINERS'
if (-not $containers) { $containers = 'workspaceblobstore' }
$prefixes = @()
foreach ($name in ($containers -split ',')) {
    $name = $name.Trim()
    if (-not $name) { continue }
    if ($name.Length -lt 3 -or $name.Length -gt 63 -or $name -cnotmatch '^[a-z0-9]+(-[a-z0-9]+)*$') {
        Fail "PIPELINES_BLOB_EVENTS_CONTAINERS: '$name' is not a blob container name."
    }
    $prefixes += "/blobServices/default/containers/$name/blobs/"
}
if ($prefixes.Count -lt 1) { Fail 'PIPELINES_BLOB_EVENTS_CONTAINERS names no container.' }
if ($prefixes.Count -gt 25) {
    Fail "PIPELINES_BLOB_EVENTS_CONTAINERS: at most 25 containers (Event Grid's limit of filter values)."
}
if ($prefixes.Count -eq 1) {
    $filter = @('--subject-begins-with', $prefixes[0])
} else {
    $filter = @('--advanced-filter', 'subject', 'StringBeginsWith') + $prefixes
}

$base = Get-EnvValue 'SERVICE_API_URI'
if (-not $base) {
    $hostName = (& az functionapp show -g $group -n $app --subscription $subscription --query defaultHostName -o tsv)
    if ($LASTEXITCODE -ne 0 -or -not $hostName) { Fail "could not read the host name of $app." }
    $base = "https://$("$hostName".Trim())"
}
$base = $base.TrimEnd('/')

# Wake the host (Flex Consumption scales to zero): it creates the key when it starts, and
# must answer Event Grid's validation request in time.
try { Invoke-WebRequest -Uri "$base/health" -TimeoutSec 60 -UseBasicParsing | Out-Null } catch { }

Say "getting the eventgrid_extension system key of $app..."
$key = ''
for ($attempt = 1; $attempt -le $KeyAttempts; $attempt++) {
    $output = (& az functionapp keys list -g $group -n $app --subscription $subscription `
            --query systemKeys.eventgrid_extension -o tsv 2>&1)
    $lines = @($output | ForEach-Object { "$_" })
    if ($LASTEXITCODE -eq 0) {
        $key = (($lines | Where-Object { $_.Trim() }) -join '').Trim()
        if ($key) { break }
    }
    $reason = Hide-Key (($lines | Where-Object { $_.Trim() } | Select-Object -First 1) -join '')
    if ($attempt -lt $KeyAttempts) {
        $detail = if ($reason) { ": $reason" } else { '' }
        Say "no key yet (attempt $attempt of $KeyAttempts$detail); trying again in ${KeyWaitSeconds}s."
        Start-Sleep -Seconds $KeyWaitSeconds
    } elseif ($reason) {
        [Console]::Error.WriteLine($reason)
    }
}
if (-not $key) {
    Fail "the host has no eventgrid_extension key after $($KeyAttempts * $KeyWaitSeconds)s. Check that '$FunctionName' is listed by 'az functionapp function list -g $group -n $app -o table', then run 'azd hooks run postdeploy'."
}

# The URL goes to az in a file (`--endpoint @file`, which az reads itself): az is a batch
# file on Windows, where cmd.exe would split an unquoted `&`; and the key stays out of the
# process list.
$endpointFile = [IO.Path]::GetTempFileName()
[IO.File]::WriteAllText($endpointFile, "$base/runtime/webhooks/eventgrid?functionName=$FunctionName&code=$([Uri]::EscapeDataString($key))")

Say "subscribing $FunctionName to $EventTypes under $($prefixes -join ' ') (system topic $topic)..."
$createArgs = @(
    'eventgrid', 'system-topic', 'event-subscription', 'create',
    '--name', $SubscriptionName,
    '--resource-group', $group,
    '--system-topic-name', $topic,
    '--subscription', $subscription,
    '--endpoint-type', 'webhook',
    '--endpoint', "@$endpointFile",
    '--event-delivery-schema', 'eventgridschema',
    '--included-event-types', $EventTypes
) + $filter + @(
    '--max-delivery-attempts', "$MaxDeliveryAttempts",
    '--event-ttl', "$EventTtlMinutes",
    '--only-show-errors', '-o', 'none'
)
$created = $false
try {
    for ($attempt = 1; $attempt -le $CreateAttempts; $attempt++) {
        $output = (& az @createArgs 2>&1)
        if ($LASTEXITCODE -eq 0) { $created = $true; break }
        [Console]::Error.WriteLine((Hide-Key (@($output | ForEach-Object { "$_" }) -join [Environment]::NewLine)))
        if ($attempt -lt $CreateAttempts) {
            Say "not created (attempt $attempt of $CreateAttempts; the host may still be starting); trying again in ${CreateWaitSeconds}s."
            Start-Sleep -Seconds $CreateWaitSeconds
        }
    }
} finally {
    Remove-Item -LiteralPath $endpointFile -Force -ErrorAction SilentlyContinue
}
if ($created) {
    Say "event subscription '$SubscriptionName' is in place: $base/runtime/webhooks/eventgrid?functionName=$FunctionName"
    exit 0
}
Fail "could not create the event subscription '$SubscriptionName'; see the error above, then run 'azd hooks run postdeploy'."
