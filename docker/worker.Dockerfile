# The standalone worker of a CPU compute target (pipelines/worker/standalone.py): the image a
# Container Apps job of infra/app/workers.bicep runs. Built from the repository's root:
#
#   docker build -f docker/worker.Dockerfile -t <registry>/pipelines-worker:<tag> .
#   docker build -f docker/worker.Dockerfile --build-arg EXTRA_REQUIREMENTS=targets/cpu.txt -t ... .
#
# EXTRA_REQUIREMENTS: a pip requirements file (a path inside the build context, pinned
# versions) with what the target's steps import beyond the app's own requirements.txt.
# Guide: docs/deploy.md, "Compute targets".
FROM python:3.11-slim

ARG EXTRA_REQUIREMENTS=docker/no-extra-requirements.txt

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIPELINES_WORK_DIR=/tmp/pipelines-work

WORKDIR /app
COPY requirements.txt ./requirements.txt
COPY ${EXTRA_REQUIREMENTS} ./extra-requirements.txt
RUN python -m pip install -r requirements.txt -r extra-requirements.txt

# The package (the worker, and the runtime its steps import) and the queue options it follows.
COPY host.json ./host.json
COPY pipelines ./pipelines

# Never root: a step runs as this user, with a home and a work folder of its own.
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin worker \
    && mkdir -p /tmp/pipelines-work && chown worker /tmp/pipelines-work
USER 10001

EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]

# The target comes from PIPELINES_WORKER_TARGET (set by the job), or `--target NAME` after the image.
ENTRYPOINT ["python", "-m", "pipelines.worker.standalone", "--health-host", "0.0.0.0", "--health-port", "8080"]
