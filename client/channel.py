"""Channel settings shared by the sync and asyncio clients: limits, retries, TLS, token."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import grpc

SERVICE = "inference.GRPCInferenceService"
DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024
DEFAULT_TIMEOUT_S = 30.0


def _read(path_or_bytes):
    if path_or_bytes is None or isinstance(path_or_bytes, bytes):
        return path_or_bytes
    return Path(path_or_bytes).read_bytes()


@dataclass(frozen=True)
class ChannelSettings:
    """How to reach a server. `url` is HOST:PORT; TLS files may be paths or PEM bytes."""

    url: str
    timeout: float = DEFAULT_TIMEOUT_S  # default deadline of every call, seconds
    token: str | None = None  # sent as `authorization: Bearer <token>`
    tls: bool = False
    root_certificates: str | bytes | None = None
    client_certificate: str | bytes | None = None  # for mTLS
    client_key: str | bytes | None = None
    server_name_override: str | None = None  # TLS target name when `url` is an IP address
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    max_attempts: int = 4  # attempts on UNAVAILABLE, declared in the service config

    def service_config(self) -> str:
        """gRPC service config: retries only on UNAVAILABLE, for every RPC of the service."""
        return json.dumps({
            "methodConfig": [{
                "name": [{"service": SERVICE}],
                "retryPolicy": {
                    "maxAttempts": max(2, min(self.max_attempts, 5)),
                    "initialBackoff": "0.1s",
                    "maxBackoff": "2s",
                    "backoffMultiplier": 2,
                    "retryableStatusCodes": ["UNAVAILABLE"],
                },
            }],
        })

    def options(self) -> list[tuple[str, object]]:
        opts: list[tuple[str, object]] = [
            ("grpc.max_send_message_length", self.max_message_bytes),
            ("grpc.max_receive_message_length", self.max_message_bytes),
            ("grpc.enable_retries", 1 if self.max_attempts > 1 else 0),
            ("grpc.service_config", self.service_config()),
        ]
        if self.server_name_override:
            opts.append(("grpc.ssl_target_name_override", self.server_name_override))
        return opts

    def credentials(self) -> grpc.ChannelCredentials | None:
        if not (self.tls or self.root_certificates or self.client_certificate):
            return None
        return grpc.ssl_channel_credentials(
            root_certificates=_read(self.root_certificates),
            private_key=_read(self.client_key),
            certificate_chain=_read(self.client_certificate),
        )

    def metadata(self) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {self.token}"),) if self.token else ()


def open_channel(settings: ChannelSettings, module=grpc):
    """A channel from `grpc` or `grpc.aio` (pass module=grpc.aio)."""
    creds = settings.credentials()
    if creds is None:
        return module.insecure_channel(settings.url, options=settings.options())
    return module.secure_channel(settings.url, creds, options=settings.options())
