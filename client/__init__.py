"""Tandem's client library: call any OIP v2 gRPC inference server with numpy arrays.

Needs only grpcio, protobuf and numpy; importing it imports neither torch nor tensorflow.
"""

from .aio import AsyncInferenceClient
from .channel import ChannelSettings
from .codec import CodecError
from .errors import (
                     DeadlineExceededError,
                     InferenceError,
                     InvalidArgumentError,
                     NotFoundError,
                     PermissionDeniedError,
                     ResourceExhaustedError,
                     ServerError,
                     UnauthenticatedError,
                     UnavailableError,
)
from .messages import ModelIndexEntry, ModelMetadata, StreamResult, TensorSpec
from .sync import InferenceClient

__all__ = [
    "AsyncInferenceClient", "ChannelSettings", "CodecError", "DeadlineExceededError", "InferenceClient",
    "InferenceError", "InvalidArgumentError", "ModelIndexEntry", "ModelMetadata", "NotFoundError",
    "PermissionDeniedError", "ResourceExhaustedError", "ServerError", "StreamResult", "TensorSpec",
    "UnauthenticatedError", "UnavailableError",
]
