"""A SignatureDef (from saved_model.pb or TF Serving's GetModelMetadata) + model.yaml -> the OIP v2
contract: tensor names, datatypes, shapes, and which SignatureDef key each contract name maps to.

Both backends build their contract here, so the same SavedModel reports the same metadata whether
it runs embedded or behind TF Serving. Works on the protobuf messages only (no TF runtime).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from client.codec import shape_str
from client.messages import TensorSpec

from .config import ModelConfig, TensorEntry

# TensorFlow's DataType enum (tensorflow/core/framework/types.proto) <-> OIP v2 datatypes.
DT_FLOAT, DT_DOUBLE, DT_INT32, DT_UINT8, DT_INT16, DT_INT8, DT_STRING = 1, 2, 3, 4, 5, 6, 7
DT_INT64, DT_BOOL, DT_BFLOAT16, DT_UINT16, DT_HALF, DT_UINT32, DT_UINT64 = 9, 10, 14, 17, 19, 22, 23
TF_TO_OIP = {
    DT_BOOL: "BOOL", DT_UINT8: "UINT8", DT_UINT16: "UINT16", DT_UINT32: "UINT32", DT_UINT64: "UINT64",
    DT_INT8: "INT8", DT_INT16: "INT16", DT_INT32: "INT32", DT_INT64: "INT64", DT_HALF: "FP16",
    DT_BFLOAT16: "BF16", DT_FLOAT: "FP32", DT_DOUBLE: "FP64", DT_STRING: "BYTES",
}
OIP_TO_TF = {v: k for k, v in TF_TO_OIP.items()}
_TF_NAMES = {1: "DT_FLOAT", 2: "DT_DOUBLE", 3: "DT_INT32", 4: "DT_UINT8", 5: "DT_INT16", 6: "DT_INT8",
             7: "DT_STRING", 8: "DT_COMPLEX64", 9: "DT_INT64", 10: "DT_BOOL", 14: "DT_BFLOAT16",
             17: "DT_UINT16", 18: "DT_COMPLEX128", 19: "DT_HALF", 20: "DT_RESOURCE", 21: "DT_VARIANT",
             22: "DT_UINT32", 23: "DT_UINT64"}


class ContractError(ValueError):
    """The SignatureDef cannot be served on the contract, or model.yaml does not match it."""


def tf_dtype_name(dtype: int) -> str:
    return _TF_NAMES.get(dtype, f"DataType({dtype})")


@dataclass(frozen=True)
class Contract:
    signature: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    input_keys: Mapping[str, str]  # contract name -> SignatureDef key
    output_keys: Mapping[str, str]


@dataclass(frozen=True)
class _SigTensor:
    key: str
    datatype: str
    shape: tuple[int, ...] | None  # None: unknown rank


def _sig_tensors(kind: str, tensors) -> dict[str, _SigTensor]:
    out = {}
    for key in sorted(tensors):
        info = tensors[key]
        datatype = TF_TO_OIP.get(info.dtype)
        if datatype is None:
            raise ContractError(f"signature {kind} '{key}' has dtype {tf_dtype_name(info.dtype)}, which the "
                                "OIP v2 contract cannot carry")
        ts = info.tensor_shape
        shape = None if ts.unknown_rank else tuple(-1 if d.size < 0 else int(d.size) for d in ts.dim)
        out[key] = _SigTensor(key, datatype, shape)
    return out


def _narrows(declared: tuple[int, ...], actual: tuple[int, ...] | None) -> bool:
    """The contract shape may fix dims the SignatureDef leaves variable, never the reverse."""
    if actual is None:
        return True
    return len(declared) == len(actual) and all(a == -1 or d == a for d, a in zip(declared, actual))


def _renamed(kind: str, entries: tuple[TensorEntry, ...], sig: dict[str, _SigTensor], *,
             complete: bool) -> tuple[tuple[TensorSpec, ...], dict[str, str]]:
    specs, keys = [], {}
    for e in entries:
        t = sig.get(e.key)
        if t is None:
            raise ContractError(f"model.yaml {kind} '{e.name}' maps to signature key '{e.key}', which the "
                                f"signature does not have; its {kind}s are: {', '.join(sig) or 'none'}")
        if e.datatype != t.datatype:
            raise ContractError(f"model.yaml {kind} '{e.name}' declares {e.datatype} but signature key "
                                f"'{e.key}' is {t.datatype}")
        if t.shape is not None and not _narrows(e.shape, t.shape):  # unknown rank: anything narrows it
            raise ContractError(f"model.yaml {kind} '{e.name}' declares shape {shape_str(e.shape)} but "
                                f"signature key '{e.key}' has shape {shape_str(t.shape)}")
        specs.append(TensorSpec(e.name, e.datatype, e.shape))
        keys[e.name] = e.key
    if complete:
        missing = [k for k in sig if k not in keys.values()]
        if missing:
            raise ContractError(f"model.yaml tensors.{kind}s does not list signature {kind}(s) "
                                f"{', '.join(missing)}; every {kind} must be fed")
    return tuple(specs), keys


def _own(kind: str, sig: dict[str, _SigTensor]) -> tuple[tuple[TensorSpec, ...], dict[str, str]]:
    specs = []
    for t in sig.values():
        if t.shape is None:
            raise ContractError(f"signature {kind} '{t.key}' has unknown rank; declare its shape in "
                                "model.yaml tensors")
        specs.append(TensorSpec(t.key, t.datatype, t.shape))
    return tuple(specs), {t.key: t.key for t in sig.values()}


def build_contract(signature_defs: Mapping[str, Any], config: ModelConfig) -> Contract:
    """The contract for `config.signature` of a SignatureDef map (name -> SignatureDef message)."""
    name = config.signature
    if name not in signature_defs:
        known = ", ".join(sorted(k for k in signature_defs if not k.startswith("__"))) or "none"
        raise ContractError(f"the SavedModel has no signature '{name}'; its signatures: {known}")
    sig_def = signature_defs[name]
    ins, outs = _sig_tensors("input", sig_def.inputs), _sig_tensors("output", sig_def.outputs)
    if not ins or not outs:
        raise ContractError(f"signature '{name}' has no {'inputs' if not ins else 'outputs'}")
    inputs, input_keys = (_renamed("input", config.inputs, ins, complete=True) if config.inputs
                          else _own("input", ins))
    outputs, output_keys = (_renamed("output", config.outputs, outs, complete=False) if config.outputs
                            else _own("output", outs))
    return Contract(name, inputs, outputs, input_keys, output_keys)
