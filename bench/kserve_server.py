"""The peer: KServe's Python model server (kserve 0.21) serving a TorchScript model over its gRPC v2
endpoint, one row per request (KServe does not batch). Runs in the KServe environment the benchmark
makes (bench/envs.py), never in the project's: it imports only kserve, torch, numpy, grpc.

`python kserve_server.py --model-file mlp.pt --name mlp --input x --input-shape=-1,64 --output y
--output-shape=-1,10 --grpc-port P --http-port Q --metadata-dir DIR` prints `READY 127.0.0.1:P`
once the model answers ModelReady.

perf_analyzer asks ModelConfig and ModelStatistics, which KServe's servicer does not have: the
gRPC server KServe builds gets one extra generic handler answering those two from the files
ModelConfig.bin and ModelStatistics.bin in --metadata-dir (the raw answers of torch_service for the
same model). ModelInfer, ModelMetadata and everything on the request path are KServe's own. Logging
is at WARNING and the per-request latency log is off, as torch_service runs in the benchmark."""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path


def _extra_rpcs(metadata_dir: Path):
    import grpc

    def constant(answer: bytes):
        async def handler(request, context):
            return answer
        return grpc.unary_unary_rpc_method_handler(handler, request_deserializer=None, response_serializer=None)

    return grpc.method_handlers_generic_handler("inference.GRPCInferenceService", {
        name: constant((metadata_dir / f"{name}.bin").read_bytes()) for name in ("ModelConfig", "ModelStatistics")})


def _dims(text: str) -> list[int]:
    return [int(d) for d in text.split(",")]


def _announce_when_ready(port: int, name: str) -> None:
    import grpc
    from kserve.protocol.grpc import grpc_predict_v2_pb2 as pb
    from kserve.protocol.grpc import grpc_predict_v2_pb2_grpc as pb_grpc

    def poll():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
                try:
                    if pb_grpc.GRPCInferenceServiceStub(channel).ModelReady(pb.ModelReadyRequest(name=name),
                                                                              timeout=2).ready:
                        print(f"READY 127.0.0.1:{port}", flush=True)
                        return
                except grpc.RpcError:
                    pass
            time.sleep(0.1)
    threading.Thread(target=poll, daemon=True).start()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model-file", type=Path, required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--input", default="x")
    parser.add_argument("--output", default="y")
    parser.add_argument("--input-shape", default="-1,64")
    parser.add_argument("--output-shape", default="-1,10")
    parser.add_argument("--grpc-port", type=int, required=True)
    parser.add_argument("--http-port", type=int, required=True)
    parser.add_argument("--metadata-dir", type=Path, required=True)
    parser.add_argument("--torch-threads", type=int, default=1)
    args = parser.parse_args()
    sys.argv = sys.argv[:1]  # `import kserve` parses sys.argv itself
    os.environ.setdefault("KSERVE_LOGLEVEL", "WARNING")

    import kserve
    import kserve.protocol.grpc.server as kserve_grpc
    import torch
    from kserve import InferOutput, InferRequest, InferResponse

    class TorchScriptModel(kserve.Model):
        def __init__(self):
            super().__init__(args.name)
            self.module = None

        def load(self) -> bool:
            torch.set_num_threads(args.torch_threads)
            self.module = torch.jit.load(str(args.model_file)).eval()
            self.ready = True
            return self.ready

        def get_input_types(self) -> list[dict]:  # what ModelMetadata answers
            return [{"name": args.input, "datatype": "FP32", "shape": _dims(args.input_shape)}]

        def get_output_types(self) -> list[dict]:
            return [{"name": args.output, "datatype": "FP32", "shape": _dims(args.output_shape)}]

        async def predict(self, payload: InferRequest, headers=None, response_headers=None) -> InferResponse:
            x = torch.from_numpy(payload.inputs[0].as_numpy())
            with torch.inference_mode():
                y = self.module(x).numpy()
            output = InferOutput(name=args.output, shape=list(y.shape), datatype="FP32")
            output.set_data_from_numpy(y, binary_data=True)
            return InferResponse(response_id=payload.id, model_name=self.name, infer_outputs=[output])

    extra, make_server = _extra_rpcs(args.metadata_dir), kserve_grpc.aio.server

    class _Aio:  # kserve_grpc.aio.server, with the two metadata RPCs perf_analyzer needs
        @staticmethod
        def server(*a, **kw):
            server = make_server(*a, **kw)
            server.add_generic_rpc_handlers((extra,))
            return server

    kserve_grpc.aio = _Aio
    model = TorchScriptModel()
    model.load()
    _announce_when_ready(args.grpc_port, args.name)
    kserve.ModelServer(http_port=args.http_port, grpc_port=args.grpc_port, enable_grpc=True,
                       enable_latency_logging=False).start([model])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
