# torch_service: PyTorch model archives served on the OIP v2 gRPC contract.
#
#   docker build -f docker/torch_service.Dockerfile -t tandem/torch_service:0.1.0-cpu .
#   docker build -f docker/torch_service.Dockerfile --build-arg TORCH_VARIANT=cuda -t tandem/torch_service:0.1.0-cuda .
#
# TORCH_VARIANT=cpu installs the pinned torch from PyTorch's CPU wheel index (no CUDA libraries);
# cuda installs it from PyPI, whose Linux wheels bring their CUDA runtime as nvidia-* wheels (the
# host needs only the NVIDIA driver and container toolkit). Everything else comes from
# requirements/torch-service.txt, pinned to requirements/dev.txt (python -m deploy.requirements).

ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ARG TORCH_VARIANT=cpu
ARG TORCH_CPU_INDEX=https://download.pytorch.org/whl/cpu
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY requirements/torch-service.txt /tmp/requirements/
RUN set -eux; \
    torch_pin="$(grep -E '^torch==' /tmp/requirements/torch-service.txt)"; \
    case "$TORCH_VARIANT" in \
      cpu) pip install --no-deps --index-url "$TORCH_CPU_INDEX" "$torch_pin" ;; \
      cuda) ;; \
      *) echo "TORCH_VARIANT must be cpu or cuda, got '$TORCH_VARIANT'" >&2; exit 1 ;; \
    esac; \
    pip install -r /tmp/requirements/torch-service.txt; \
    pip check; \
    if [ "$TORCH_VARIANT" = cpu ]; then want='torch.version.cuda is None'; else want='torch.version.cuda'; fi; \
    python -c "import torch; print('torch', torch.__version__, 'CUDA', torch.version.cuda); \
assert $want, 'the torch installed does not match TORCH_VARIANT=$TORCH_VARIANT'"

FROM ${PYTHON_IMAGE}
ARG TORCH_VARIANT=cpu
ARG TANDEM_VERSION=0.1.0
LABEL org.opencontainers.image.title="tandem-torch_service" \
      org.opencontainers.image.description="Tandem torch_service: PyTorch on the Open Inference Protocol v2" \
      org.opencontainers.image.version="${TANDEM_VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      tandem.torch.variant="${TORCH_VARIANT}"
RUN groupadd --system --gid 10001 tandem \
    && useradd --system --uid 10001 --gid tandem --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin tandem \
    && mkdir -p /models && chown tandem:tandem /models
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY protos/ protos/
COPY client/ client/
COPY server_core/ server_core/
COPY torch_service/ torch_service/
COPY deploy/__init__.py deploy/healthcheck.py deploy/
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TORCH_SERVICE_HOST=0.0.0.0 \
    TORCH_SERVICE_PORT=7070 \
    TORCH_SERVICE_METRICS_PORT=8082 \
    TORCH_SERVICE_MODEL_STORE=/models/torch
RUN python -m compileall -q /app && python -c "import torch_service.cli, torch_service.loader, deploy.healthcheck"
USER tandem
EXPOSE 7070 8082
HEALTHCHECK --interval=10s --timeout=5s --start-period=180s --retries=3 \
    CMD ["python", "-m", "deploy.healthcheck", "--env-prefix", "TORCH_SERVICE", "--port", "7070"]
ENTRYPOINT ["python", "-m", "torch_service"]
