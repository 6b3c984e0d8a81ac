#!/usr/bin/env bash
# azd postdeploy hook (azure.yaml): subscribe the function `start_runs_from_events` to the
# Blob Storage events of the app's storage account, through the Event Grid system topic
# that infra/app/events.bicep creates when PIPELINES_BLOB_EVENTS (enableBlobEvents) is true.
# infra/hooks/postdeploy.ps1 does the same on Windows; keep the two alike.
#
# Why after the deployment and not in Bicep: on Flex Consumption the function exists only
# once its code is deployed; Event Grid validates a webhook when the subscription is
# created (the host's Event Grid extension answers the validation event); and the
# webhook's key, the host's `eventgrid_extension` system key, is created by the host
# when it first starts with an Event Grid trigger.
#
# Does nothing when PIPELINES_BLOB_EVENTS is not true. Idempotent: `event-subscription
# create` is a PUT (create or replace), so each run sets the subscription to what this
# script says, with the host's current key. Run it alone with `azd hooks run postdeploy`
# (after rotating the eventgrid_extension key, say).
#
# Reads azd's environment values, which azd hands to its hooks: the outputs of
# infra/main.bicep (AZURE_EVENTGRID_SYSTEM_TOPIC_NAME, AZURE_RESOURCE_GROUP,
# AZURE_FUNCTION_APP_NAME, SERVICE_API_URI), AZURE_SUBSCRIPTION_ID, PIPELINES_BLOB_EVENTS,
# and optionally PIPELINES_BLOB_EVENTS_CONTAINERS (comma list; default workspaceblobstore).
# Needs Azure CLI signed in (`az login`; azd's own sign-in is separate).
set -euo pipefail

FUNCTION_NAME=start_runs_from_events
SUBSCRIPTION_NAME=start-runs-from-events
EVENT_TYPES=Microsoft.Storage.BlobCreated
# Event Grid's default retry policy, written out: up to 30 attempts within 24 hours, with
# growing delays; an event still undelivered then is dropped (no dead-letter container).
MAX_DELIVERY_ATTEMPTS=30
EVENT_TTL_MINUTES=1440
# How long to wait for the host's key (KEY_ATTEMPTS x KEY_WAIT_SECONDS) and how often to
# try the subscription, whose validation fails while the host is still starting.
KEY_ATTEMPTS=20
KEY_WAIT_SECONDS=15
CREATE_ATTEMPTS=4
CREATE_WAIT_SECONDS=20

say() { printf 'postdeploy (blob events): %s\n' "$*"; }
fail() { printf 'postdeploy (blob events): %s\n' "$*" >&2; exit 1; }

# An azd environment value: from the environment azd gives the hook, else from azd itself
# (when the script is run by hand).
env_value() {
  local name=$1 value
  value=$(printenv "$name" 2>/dev/null || true)
  if [ -z "$value" ] && command -v azd >/dev/null 2>&1; then
    value=$(azd env get-value "$name" 2>/dev/null || true)
  fi
  printf '%s' "$value"
}

# Percent-encodes a query value (the key).
urlencode() {
  local s=$1 out='' c i
  for ((i = 0; i < ${#s}; i++)); do
    c=${s:i:1}
    case $c in
      [A-Za-z0-9._~-]) out+=$c ;;
      *) out+=$(printf '%%%02X' "'$c") ;;
    esac
  done
  printf '%s' "$out"
}

# Hides the key in anything printed.
redact() { sed -E 's/(code=)[^&"[:space:]]+/\1***/g'; }

enabled=$(env_value PIPELINES_BLOB_EVENTS | tr '[:upper:]' '[:lower:]')
if [ "$enabled" != "true" ]; then
  say "off (PIPELINES_BLOB_EVENTS is not true): nothing to do."
  exit 0
fi

topic=$(env_value AZURE_EVENTGRID_SYSTEM_TOPIC_NAME)
[ -n "$topic" ] || fail "PIPELINES_BLOB_EVENTS is true but no system topic is provisioned yet: run 'azd provision' (or 'azd up'), then 'azd hooks run postdeploy'."
group=$(env_value AZURE_RESOURCE_GROUP)
app=$(env_value AZURE_FUNCTION_APP_NAME)
if [ -z "$group" ] || [ -z "$app" ]; then
  fail "AZURE_RESOURCE_GROUP or AZURE_FUNCTION_APP_NAME is empty: run 'azd provision' first."
fi

command -v az >/dev/null 2>&1 || fail "Azure CLI (az) is not installed; it creates the Event Grid subscription."
subscription=$(env_value AZURE_SUBSCRIPTION_ID)
if [ -z "$subscription" ]; then
  subscription=$(az account show --query id -o tsv 2>/dev/null || true)
fi
[ -n "$subscription" ] || fail "Azure CLI is not signed in: run 'az login', then 'azd hooks run postdeploy'."
az account show --subscription "$subscription" -o none 2>/dev/null \
  || fail "Azure CLI is not signed in to subscription '$subscription': run 'az login' (and 'az account set -s $subscription'), then 'azd hooks run postdeploy'."

# Which blobs: those of the listed containers of the app's account. With
# PIPELINES_NAME_PREFIX set on the app, its own container is <prefix>-workspaceblobstore.
containers=$(env_value PIPELINES_BLOB_EVENTS_CONTAINERS)
containers=${containers:-workspaceblobstore}
prefixes=()
IFS=',' read -r -a names <<<"$containers"
for name in "${names[@]}"; do
  name=$(printf '%s' "$name" | tr -d '[:space:]')
  [ -n "$name" ] || continue
  { [ "${#name}" -ge 3 ] && [ "${#name}" -le 63 ] && printf '%s' "$name" | grep -Eq '^[a-z0-9]+(-[a-z0-9]+)*$'; } \
    || fail "PIPELINES_BLOB_EVENTS_CONTAINERS: '$name' is not a blob container name."
  prefixes+=("/blobServices/default/containers/$name/blobs/")
done
[ "${#prefixes[@]}" -ge 1 ] || fail "PIPELINES_BLOB_EVENTS_CONTAINERS names no container."
[ "${#prefixes[@]}" -le 25 ] || fail "PIPELINES_BLOB_EVENTS_CONTAINERS: at most 25 containers (Event Grid's limit of filter values)."
if [ "${#prefixes[@]}" -eq 1 ]; then
  filter=(--subject-begins-with "${prefixes[0]}")
else
  filter=(--advanced-filter subject StringBeginsWith "${prefixes[@]}")
fi

base=$(env_value SERVICE_API_URI)
if [ -z "$base" ]; then
  base="https://$(az functionapp show -g "$group" -n "$app" --subscription "$subscription" --query defaultHostName -o tsv)"
fi
base=${base%/}

# Wake the host (Flex Consumption scales to zero): it creates the key when it starts, and
# must answer Event Grid's validation request in time.
if command -v curl >/dev/null 2>&1; then
  curl -s -o /dev/null --max-time 60 "$base/health" || true
fi

say "getting the eventgrid_extension system key of $app..."
key=''
umask 077
errors=$(mktemp)
endpoint_file=$(mktemp)
trap 'rm -f "$errors" "$endpoint_file"' EXIT
for ((attempt = 1; attempt <= KEY_ATTEMPTS; attempt++)); do
  key=$(az functionapp keys list -g "$group" -n "$app" --subscription "$subscription" \
    --query systemKeys.eventgrid_extension -o tsv 2>"$errors" || true)
  [ -n "$key" ] && break
  if [ "$attempt" -lt "$KEY_ATTEMPTS" ]; then
    reason=$(redact <"$errors" | grep -v '^[[:space:]]*$' | head -n 1 || true)
    say "no key yet (attempt $attempt of $KEY_ATTEMPTS${reason:+: $reason}); trying again in ${KEY_WAIT_SECONDS}s."
    sleep "$KEY_WAIT_SECONDS"
  fi
done
if [ -z "$key" ]; then
  redact <"$errors" >&2
  fail "the host has no eventgrid_extension key after $((KEY_ATTEMPTS * KEY_WAIT_SECONDS))s. Check that '$FUNCTION_NAME' is listed by 'az functionapp function list -g $group -n $app -o table', then run 'azd hooks run postdeploy'."
fi

# The URL goes to az in a file (`--endpoint @file`, which az reads itself): the key stays
# out of the process list, and the `&` out of any shell's way.
printf '%s' "$base/runtime/webhooks/eventgrid?functionName=$FUNCTION_NAME&code=$(urlencode "$key")" >"$endpoint_file"

say "subscribing $FUNCTION_NAME to $EVENT_TYPES under ${prefixes[*]} (system topic $topic)..."
for ((attempt = 1; attempt <= CREATE_ATTEMPTS; attempt++)); do
  if az eventgrid system-topic event-subscription create \
    --name "$SUBSCRIPTION_NAME" \
    --resource-group "$group" \
    --system-topic-name "$topic" \
    --subscription "$subscription" \
    --endpoint-type webhook \
    --endpoint "@$endpoint_file" \
    --event-delivery-schema eventgridschema \
    --included-event-types "$EVENT_TYPES" \
    "${filter[@]}" \
    --max-delivery-attempts "$MAX_DELIVERY_ATTEMPTS" \
    --event-ttl "$EVENT_TTL_MINUTES" \
    --only-show-errors -o none 2>"$errors"; then
    say "event subscription '$SUBSCRIPTION_NAME' is in place: $base/runtime/webhooks/eventgrid?functionName=$FUNCTION_NAME"
    exit 0
  fi
  redact <"$errors" >&2
  if [ "$attempt" -lt "$CREATE_ATTEMPTS" ]; then
    say "not created (attempt $attempt of $CREATE_ATTEMPTS; the host may still be starting); trying again in ${CREATE_WAIT_SECONDS}s."
    sleep "$CREATE_WAIT_SECONDS"
  fi
done
fail "could not create the event subscription '$SUBSCRIPTION_NAME'; see the error above, then run 'azd hooks run postdeploy'."
