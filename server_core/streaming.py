"""ModelStreamInfer: requests of one stream run concurrently (up to a window) and are answered in
order; a failed request becomes an `error_message` answer and the stream goes on (Triton's way)."""

from __future__ import annotations

import asyncio
import time

from protos import grpc_predict_v2_pb2 as pb

from .errors import to_status

WINDOW = 64  # requests of one stream in flight at once


async def stream_responses(infer_one, request_iterator, time_remaining: float | None, window: int = WINDOW):
    deadline = None if time_remaining is None else time.monotonic() + time_remaining

    async def one(request):
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            return pb.ModelStreamInferResponse(infer_response=await infer_one(request, left))
        except Exception as exc:  # noqa: BLE001 - every failure becomes this request's error answer
            code, message = to_status(exc, "ModelStreamInfer")
            return pb.ModelStreamInferResponse(
                error_message=f"{code.name}: {message}",
                infer_response=pb.ModelInferResponse(model_name=request.model_name, id=request.id))

    pending: asyncio.Queue = asyncio.Queue(maxsize=window)
    done_reading = object()

    async def reader():
        async for request in request_iterator:
            await pending.put(asyncio.ensure_future(one(request)))
        await pending.put(done_reading)

    read_task = asyncio.ensure_future(reader())
    try:
        while True:
            item = await pending.get()
            if item is done_reading:
                break
            yield await item
        await read_task
    finally:
        read_task.cancel()
        while not pending.empty():
            item = pending.get_nowait()
            if item is not done_reading:
                item.cancel()
