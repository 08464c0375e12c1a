# tf_service in front of TensorFlow Serving (its tfserving backend), without the TensorFlow runtime.
#
#   docker build -f docker/tf_service.Dockerfile -t tandem/tf_service:0.1.0 .
#
# The tfserving backend needs grpcio, protobuf, numpy and TF Serving's API protos. Those protos
# (tensorflow-serving-api) import TensorFlow's own *_pb2 modules, which ship inside the tensorflow
# wheel; the build stage downloads that wheel and keeps only the protobuf modules reachable from
# tensorflow_serving and tf_service (deploy/tf_protos.py), so the image holds no TensorFlow runtime.
# The embedded and managed backends are not available in this image (no runtime, no TF Serving binary).

ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY requirements/tf-service.txt requirements/tf-service-protos.txt /tmp/requirements/
RUN pip install -r /tmp/requirements/tf-service.txt && pip check
COPY deploy/tf_protos.py /tmp/build/tf_protos.py
COPY tf_service/ /tmp/build/tf_service/
RUN set -eux; \
    pip download --no-deps --only-binary=:all: --dest /tmp/wheels -r /tmp/requirements/tf-service-protos.txt; \
    pip install --no-deps /tmp/wheels/tensorflow_serving_api-*.whl; \
    site="$(python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"; \
    python /tmp/build/tf_protos.py --source /tmp/wheels/tensorflow-*.whl \
        --scan "$site/tensorflow_serving" --scan /tmp/build/tf_service --out "$site"; \
    rm -rf /tmp/wheels /tmp/build; \
    python -c "from tensorflow_serving.apis import prediction_service_pb2_grpc, model_service_pb2_grpc; \
from tensorflow_serving.config import model_server_config_pb2"

FROM ${PYTHON_IMAGE}
ARG TANDEM_VERSION=0.1.0
LABEL org.opencontainers.image.title="tandem-tf_service" \
      org.opencontainers.image.description="Tandem tf_service: TF Serving on the Open Inference Protocol v2" \
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
COPY tf_service/ tf_service/
COPY deploy/__init__.py deploy/healthcheck.py deploy/tfserving_config.py deploy/
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TF_SERVICE_HOST=0.0.0.0 \
    TF_SERVICE_PORT=8600 \
    TF_SERVICE_METRICS_PORT=8602 \
    TF_SERVICE_MODEL_BASE_PATH=/models/tf \
    TF_SERVICE_BACKEND=tfserving
RUN python -m compileall -q /app \
    && python -c "import tf_service.cli, tf_service.tfserving, tf_service.managed; \
import deploy.healthcheck, deploy.tfserving_config"
USER tandem
EXPOSE 8600 8602
HEALTHCHECK --interval=10s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python", "-m", "deploy.healthcheck", "--env-prefix", "TF_SERVICE", "--port", "8600"]
ENTRYPOINT ["python", "-m", "tf_service"]
