# postprovision (azure.yaml) on Windows: see build-workers.sh.
$ErrorActionPreference = 'Stop'
$endpoint = $env:AZURE_CONTAINER_REGISTRY_ENDPOINT
if (-not $endpoint) { Write-Host 'compute targets are off (no container registry): no worker image to build'; exit 0 }
$registry = $endpoint.Split('.')[0]
$tag = if ($env:PIPELINES_WORKER_IMAGE_TAG) { $env:PIPELINES_WORKER_IMAGE_TAG } else { 'latest' }
$extra = if ($env:PIPELINES_WORKER_EXTRA_REQUIREMENTS) { $env:PIPELINES_WORKER_EXTRA_REQUIREMENTS } else { 'docker/no-extra-requirements.txt' }
az acr build --registry $registry --image "pipelines-worker:$tag" --file docker/worker.Dockerfile --build-arg "EXTRA_REQUIREMENTS=$extra" .
if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
if ($env:PIPELINES_GPU_PROFILE -eq 'true') {
  $gpuExtra = if ($env:PIPELINES_WORKER_GPU_EXTRA_REQUIREMENTS) { $env:PIPELINES_WORKER_GPU_EXTRA_REQUIREMENTS } else { 'docker/no-extra-requirements.txt' }
  az acr build --registry $registry --image "pipelines-worker-gpu:$tag" --file docker/worker-gpu.Dockerfile --build-arg "EXTRA_REQUIREMENTS=$gpuExtra" .
  if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
}
