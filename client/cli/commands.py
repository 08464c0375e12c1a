"""The `health`, `metadata` and `infer` subcommands. Each returns its exit code; failures raise
InferenceError / CliInputError, which `client.cli.app` turns into a message and exit code 2."""

from __future__ import annotations

import argparse
import json
import time

from ..codec import CodecError
from ..errors import InferenceError
from ..sync import InferenceClient
from . import io, show
from .options import client_options


def _client(args: argparse.Namespace) -> InferenceClient:
    return InferenceClient(args.url, **client_options(args))


def health(args: argparse.Namespace) -> int:
    """Live, ready, server metadata (and a model's readiness): exit 0 only when ready."""
    with _client(args) as c:
        live = c.is_server_live()
        ready = c.is_server_ready()
        try:
            server, server_error = c.server_metadata(), None
        except InferenceError as e:
            server, server_error = None, f"{e.code.name}: {e.message}"
        model_ready = c.is_model_ready(args.model, args.version) if args.model else None
    ok = live and ready and model_ready is not False
    if args.json:
        doc = {"url": args.url, "live": live, "ready": ready, "server": server, "ok": ok}
        if args.model:
            doc["model"] = {"name": args.model, "version": args.version, "ready": model_ready}
        if server_error:
            doc["server_error"] = server_error
        print(json.dumps(doc, indent=2))
        return 0 if ok else 1
    print(f"server {args.url}")
    print(f"  live:  {show.yes_no(live)}")
    print(f"  ready: {show.yes_no(ready)}")
    if server is not None:
        print(f"  name: {server['name']} {server['version']}")
        print(f"  extensions: {', '.join(server['extensions']) or '-'}")
    else:
        print(f"  server metadata unavailable: {server_error}")
    if args.model:
        version = f" version {args.version}" if args.version else ""
        print(f"  model '{args.model}'{version} ready: {show.yes_no(model_ready)}")
    return 0 if ok else 1


def metadata(args: argparse.Namespace) -> int:
    """A model's signature, or the server's metadata and its models."""
    with _client(args) as c:
        if args.model:
            meta = c.model_metadata(args.model, args.version)
            print(json.dumps(show.model_dict(meta), indent=2) if args.json else show.format_model(meta))
            return 0
        server = c.server_metadata()
        try:
            models, index_error = c.repository_index(), None
        except InferenceError as e:  # servers without the repository extension
            models, index_error = None, f"{e.code.name}: {e.message}"
    if args.json:
        doc = dict(server)
        doc["models"] = None if models is None else [
            {"name": m.name, "version": m.version, "state": m.state, "reason": m.reason} for m in models]
        print(json.dumps(doc, indent=2))
        return 0
    print(f"server: {server['name']} {server['version']}")
    print(f"extensions: {', '.join(server['extensions']) or '-'}")
    if models is None:
        print(f"models: not listed by the server ({index_error})")
    else:
        print("models:" if models else "models: none")
        for m in models:
            reason = f"  ({m.reason})" if m.reason else ""
            version = f" v{m.version}" if m.version else ""
            print(f"  {m.name}{version}  {m.state}{reason}")
    return 0


def _read_inputs(args: argparse.Namespace, c: InferenceClient) -> tuple[dict, list[str]]:
    if args.input:
        return io.read_named_npy(args.input), []
    if args.inputs:
        return io.read_npz(args.inputs), []
    return io.read_json(args.json_inputs, lambda: c.model_metadata(args.model, args.version))


def infer(args: argparse.Namespace) -> int:
    """One ModelInfer call; outputs printed (summarized unless --full) or saved with --out."""
    with _client(args) as c:
        arrays, json_outputs = _read_inputs(args, c)
        wanted = args.output or json_outputs or None
        t0 = time.perf_counter()
        try:
            outputs = c.infer(args.model, arrays, outputs=wanted, version=args.version)
        except TypeError as e:  # an array numpy cannot express as an OIP datatype
            raise io.CliInputError(f"cannot send the inputs: {e}") from None
        except CodecError as e:  # a tensor that cannot be encoded, or an answer that does not decode
            raise io.CliInputError(f"invalid tensor data: {e}") from None
        elapsed_ms = (time.perf_counter() - t0) * 1e3
    if args.out:
        path = io.save_npz(args.out, outputs)
        print(f"saved {len(outputs)} output(s) to {path}: {', '.join(outputs)}")
        return 0
    print(f"model '{args.model}' answered in {elapsed_ms:.1f} ms")
    for name, array in outputs.items():
        print(show.format_array(name, array, full=args.full))
    return 0
