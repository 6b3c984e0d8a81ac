# The standalone worker of a GPU compute target: docker/worker.Dockerfile on a CUDA runtime base.
# Built from the repository's root, with the target's GPU packages (pinned, e.g. torch) in
# EXTRA_REQUIREMENTS:
#
#   docker build -f docker/worker-gpu.Dockerfile --build-arg EXTRA_REQUIREMENTS=targets/gpu.txt \
#       -t <registry>/pipelines-worker-gpu:<tag> .
#
# The CUDA runtime (not devel): steps run compiled kernels, they do not build them. The host's
# driver comes from the GPU workload profile of the Container Apps environment (NVIDIA A100 or T4).
FROM nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04

ARG EXTRA_REQUIREMENTS=docker/no-extra-requirements.txt

ENV DEBIAN_FRONTEND=noninteractive \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIPELINES_WORK_DIR=/tmp/pipelines-work

# Python 3.11 (the app's version) from the deadsnakes archive; Ubuntu 22.04 ships 3.10.
RUN apt-get update \
    && apt-get install -y --no-install-recommends software-properties-common ca-certificates \
    && add-apt-repository -y ppa:deadsnakes/ppa \
    && apt-get update \
    && apt-get install -y --no-install-recommends python3.11 python3.11-venv \
    && python3.11 -m venv /opt/venv \
    && apt-get purge -y software-properties-common && apt-get autoremove -y \
    && rm -rf /var/lib/apt/lists/*
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /app
COPY requirements.txt ./requirements.txt
COPY ${EXTRA_REQUIREMENTS} ./extra-requirements.txt
RUN python -m pip install -r requirements.txt -r extra-requirements.txt

COPY host.json ./host.json
COPY pipelines ./pipelines

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin worker \
    && mkdir -p /tmp/pipelines-work && chown worker /tmp/pipelines-work
USER 10001

EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]

ENTRYPOINT ["python", "-m", "pipelines.worker.standalone", "--health-host", "0.0.0.0", "--health-port", "8080"]
