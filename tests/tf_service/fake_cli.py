"""TEST FIXTURE: `tensorflow_model_server`'s command line for the TF Serving stand-in.

Accepts the binary's flag syntax (`--flag=value`, bare booleans), refuses unknown flags as the binary
does, parses --model_config_file as a ModelServerConfig and the batching files as
BatchingParameters text protos, loads every model before the port opens and exits non-zero when one
fails (as TF Serving does). Prints `READY 127.0.0.1:<port>` on stdout once serving (for tests) and
stops on SIGTERM. FAKE_TFS_LOAD_DELAY_S slows each version's load, to test kills mid-load.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from .fake_batching import parse_batching_file


def _bool(text: str) -> bool:
    if text.lower() in ("1", "true", "yes"):
        return True
    if text.lower() in ("0", "false", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # the binary's wording and exit status for a bad command line
        print(f"ERROR: {message}\nusage: tensorflow_model_server --port=8500 --model_config_file=F ...",
              file=sys.stderr)
        sys.exit(1)


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="tensorflow_model_server", allow_abbrev=False)
    p.add_argument("--port", type=int, default=8500)
    p.add_argument("--rest_api_port", type=int, default=0)
    p.add_argument("--rest_api_timeout_in_ms", type=int, default=30000)
    p.add_argument("--model_config_file", default="")
    p.add_argument("--model_config_file_poll_wait_seconds", type=int, default=0)
    p.add_argument("--model_name", default="default")
    p.add_argument("--model_base_path", default="")
    p.add_argument("--file_system_poll_wait_seconds", type=int, default=1)
    p.add_argument("--enable_model_warmup", type=_bool, nargs="?", const=True, default=True)
    for flag in ("--enable_batching", "--enable_per_model_batching_parameters"):
        p.add_argument(flag, type=_bool, nargs="?", const=True, default=False)
    p.add_argument("--batching_parameters_file", default="")
    p.add_argument("--tensorflow_session_parallelism", type=int, default=0)
    p.add_argument("--tensorflow_intra_op_parallelism", type=int, default=0)
    p.add_argument("--tensorflow_inter_op_parallelism", type=int, default=0)
    return p


def model_config(args) -> model_server_config_pb2.ModelServerConfig:
    if args.model_config_file:
        with open(args.model_config_file) as f:
            return text_format.Parse(f.read(), model_server_config_pb2.ModelServerConfig())
    if not args.model_base_path:
        raise ValueError("Both server_model_name and model_base_path must be set, or model_config_file")
    config = model_server_config_pb2.ModelServerConfig()
    config.model_config_list.config.add(name=args.model_name, base_path=args.model_base_path,
                                        model_platform="tensorflow")
    return config


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    try:
        config = model_config(args)
        if args.batching_parameters_file:
            if not args.enable_batching:
                raise ValueError("--batching_parameters_file is set without --enable_batching")
            parse_batching_file(args.batching_parameters_file)
    except (OSError, ValueError, text_format.ParseError) as e:
        print(f"ERROR: {e}", file=sys.stderr)
        return 1

    from .fake_tfserving import FakeTFServing  # imports TensorFlow

    per_model = args.enable_batching and args.enable_per_model_batching_parameters
    server = FakeTFServing(config, port=args.port, per_model_batching=per_model,
                           load_delay_s=float(os.environ.get("FAKE_TFS_LOAD_DELAY_S", "0")),
                           poll_s=max(0, args.file_system_poll_wait_seconds))
    try:
        server.start()
    except RuntimeError as e:
        print(f"ERROR: {e}", file=sys.stderr)
        return 1
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    print(f"Running gRPC ModelServer at {server.address} ...", file=sys.stderr, flush=True)
    print(f"READY {server.address}", flush=True)
    stop.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
