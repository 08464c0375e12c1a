# loadtests: Locust (master, workers), the resource sampler, the parity suite and the report; also
# the compose `compare` job (deploy/compare_job.py).
#
#   docker build -f docker/loadtests.Dockerfile -t tandem/loadtests:0.1.0 .
#
# GPU sampling uses NVML (nvidia-ml-py): give the container a GPU with the `utility` capability
# (docker-compose.gpu.yml does) and the NVIDIA container toolkit mounts libnvidia-ml.

ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY requirements/loadtests.txt /tmp/requirements/
RUN pip install -r /tmp/requirements/loadtests.txt && pip check

FROM ${PYTHON_IMAGE}
ARG TANDEM_VERSION=0.1.0
LABEL org.opencontainers.image.title="tandem-loadtests" \
      org.opencontainers.image.description="Tandem load tests: Locust over gRPC, parity suite, comparison report" \
      org.opencontainers.image.version="${TANDEM_VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 10001 tandem \
    && useradd --system --uid 10001 --gid tandem --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin tandem \
    && mkdir -p /models /reports && chown tandem:tandem /models /reports
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY protos/ protos/
COPY client/ client/
COPY loadtests/ loadtests/
# the main job's start-and-wait-for-READY helper (stdlib only; the services themselves are not here)
COPY server_core/__init__.py server_core/launch.py server_core/
COPY deploy/__init__.py deploy/healthcheck.py deploy/compare_job.py deploy/
# HOME=/tmp: the user has no home directory, and the root file system may be read-only.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp
RUN python -m compileall -q /app \
    && python -c "import loadtests.cli, client.cli, deploy.compare_job, deploy.healthcheck"
USER tandem
EXPOSE 8089 5557
CMD ["python", "-m", "loadtests", "--help"]
