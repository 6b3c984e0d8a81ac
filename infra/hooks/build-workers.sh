#!/usr/bin/env bash
# postprovision (azure.yaml): build the standalone worker's images in the registry of
# infra/app/workers.bicep with `az acr build` (the build runs in Azure: no local Docker needed).
# Off unless enableComputeTargets created a registry (AZURE_CONTAINER_REGISTRY_ENDPOINT).
# PIPELINES_WORKER_EXTRA_REQUIREMENTS / PIPELINES_WORKER_GPU_EXTRA_REQUIREMENTS: a pinned
# requirements file (path in the repository) of what the targets' steps import.
# docs/deploy.md, "Compute targets".
set -euo pipefail
endpoint="${AZURE_CONTAINER_REGISTRY_ENDPOINT:-}"
if [ -z "$endpoint" ]; then
  echo "compute targets are off (no container registry): no worker image to build"
  exit 0
fi
registry="${endpoint%%.*}"
tag="${PIPELINES_WORKER_IMAGE_TAG:-latest}"
az acr build --registry "$registry" --image "pipelines-worker:$tag" --file docker/worker.Dockerfile \
  --build-arg "EXTRA_REQUIREMENTS=${PIPELINES_WORKER_EXTRA_REQUIREMENTS:-docker/no-extra-requirements.txt}" .
if [ "${PIPELINES_GPU_PROFILE:-false}" = "true" ]; then
  az acr build --registry "$registry" --image "pipelines-worker-gpu:$tag" --file docker/worker-gpu.Dockerfile \
    --build-arg "EXTRA_REQUIREMENTS=${PIPELINES_WORKER_GPU_EXTRA_REQUIREMENTS:-docker/no-extra-requirements.txt}" .
fi
