# zoo: builds the reference models (python -m zoo build) for both services, on CPU.
#
#   docker build -f docker/zoo.Dockerfile -t tandem/zoo:0.1.0 .
#   docker run --rm -v tandem-zoo:/models tandem/zoo:0.1.0 build --out /models
#
# Needs both frameworks: torch (the pinned version, from PyTorch's CPU wheel index) and tensorflow,
# plus scikit-learn for the digits data; all pinned in requirements/zoo.txt (from requirements/dev.txt).
# The entrypoint skips the build when the output folder already holds one (ZOO_REBUILD=1 forces it).

ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ARG TORCH_CPU_INDEX=https://download.pytorch.org/whl/cpu
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY requirements/zoo.txt /tmp/requirements/
RUN set -eux; \
    pip install --no-deps --index-url "$TORCH_CPU_INDEX" "$(grep -E '^torch==' /tmp/requirements/zoo.txt)"; \
    pip install -r /tmp/requirements/zoo.txt; \
    pip check

FROM ${PYTHON_IMAGE}
ARG TANDEM_VERSION=0.1.0
LABEL org.opencontainers.image.title="tandem-zoo" \
      org.opencontainers.image.description="Tandem reference model zoo builder (PyTorch and TensorFlow exports)" \
      org.opencontainers.image.version="${TANDEM_VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
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
COPY zoo/ zoo/
COPY docker/zoo-entrypoint.sh docker/
# HOME and the Keras/TensorFlow caches go to /tmp: the image's root file system may be read-only.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    KERAS_HOME=/tmp/keras \
    TF_CPP_MIN_LOG_LEVEL=1 \
    ZOO_OUT=/models
RUN python -m compileall -q /app && python -c "import zoo.cli, zoo.specs"
USER tandem
ENTRYPOINT ["sh", "/app/docker/zoo-entrypoint.sh"]
CMD ["build", "--out", "/models"]
