"""The baseline: a minimal hand-written asyncio queue, topic and consumer.

What a careful programmer would write by hand for "SNS -> SQS -> handler" in one
process, with none of the AWS semantics: a deque of visible messages, a dict of
in-flight messages keyed by receipt handle, a heap of visibility deadlines, uuid ids,
and one handler call per message. No validation, no MD5s, no attributes, no
statistics, no redrive, no retention. It is the yardstick the library's figures are
divided by, run in the same process and the same event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import time
import uuid
from collections import deque
from collections.abc import Callable

VISIBILITY_TIMEOUT = 30.0


class MiniMessage:
    __slots__ = ("body", "message_id")

    def __init__(self, message_id: str, body: str) -> None:
        self.message_id = message_id
        self.body = body


class MiniQueue:
    """A visibility-timeout queue: deque + in-flight dict + deadline heap."""

    __slots__ = ("_deadlines", "_event", "_in_flight", "_visible")

    def __init__(self) -> None:
        self._visible: deque[MiniMessage] = deque()
        self._in_flight: dict[str, MiniMessage] = {}
        self._deadlines: list[tuple[float, str]] = []
        self._event = asyncio.Event()

    def __len__(self) -> int:
        return len(self._visible) + len(self._in_flight)

    # The synchronous core, comparable with eventbus's QueueMachine.

    def send(self, body: str) -> str:
        message_id = str(uuid.uuid4())
        self._visible.append(MiniMessage(message_id, body))
        self._event.set()
        return message_id

    def send_batch(self, bodies: list[str]) -> list[str]:
        return [self.send(body) for body in bodies]

    def _expire(self, now: float) -> None:
        deadlines = self._deadlines
        while deadlines and deadlines[0][0] <= now:
            _, handle = heapq.heappop(deadlines)
            message = self._in_flight.pop(handle, None)
            if message is not None:
                self._visible.append(message)

    def receive(self, max_messages: int = 10) -> list[tuple[str, MiniMessage]]:
        now = time.monotonic()
        self._expire(now)
        visible = self._visible
        out: list[tuple[str, MiniMessage]] = []
        deadline = now + VISIBILITY_TIMEOUT
        while visible and len(out) < max_messages:
            message = visible.popleft()
            handle = uuid.uuid4().hex
            self._in_flight[handle] = message
            heapq.heappush(self._deadlines, (deadline, handle))
            out.append((handle, message))
        return out

    def delete(self, handle: str) -> bool:
        return self._in_flight.pop(handle, None) is not None

    def delete_batch(self, handles: list[str]) -> int:
        return sum(self.delete(handle) for handle in handles)

    def change_visibility(self, handle: str, timeout: float) -> None:
        if handle in self._in_flight:
            heapq.heappush(self._deadlines, (time.monotonic() + timeout, handle))

    # The async face, comparable with eventbus's Queue handle.

    async def asend_batch(self, bodies: list[str]) -> list[str]:
        return self.send_batch(bodies)

    async def areceive(self, max_messages: int = 10) -> list[tuple[str, MiniMessage]]:
        """Receive, waiting (long poll, no timeout) until a message is there."""
        while True:
            messages = self.receive(max_messages)
            if messages:
                return messages
            self._event.clear()
            await self._event.wait()

    async def adelete_batch(self, handles: list[str]) -> int:
        return self.delete_batch(handles)


class MiniTopic:
    """Fan-out: every publish is sent to every subscribed queue."""

    __slots__ = ("queues",)

    def __init__(self, queues: list[MiniQueue]) -> None:
        self.queues = queues

    async def publish(self, body: str) -> str:
        message_id = str(uuid.uuid4())
        for queue in self.queues:
            queue.send(body)
        return message_id


class MiniConsumer:
    """One task per queue: receive up to 10, call the handler per message, delete.

    With ``in_thread`` the handler calls of a batch run in a worker thread
    (``asyncio.to_thread``, one hop per batch), as eventbus runs sync handlers by
    default; the deletes stay on the event loop.
    """

    def __init__(
        self,
        queue: MiniQueue,
        handler: Callable[[MiniMessage], object],
        *,
        in_thread: bool = False,
    ) -> None:
        self.queue = queue
        self.handler = handler
        self.in_thread = in_thread
        self.handled = 0
        self._task: asyncio.Task[None] | None = None

    def _handle_all(self, batch: list[tuple[str, MiniMessage]]) -> None:
        handler = self.handler
        for _, message in batch:
            handler(message)

    async def _run(self) -> None:
        queue, handler = self.queue, self.handler
        while True:
            batch = await queue.areceive(10)
            if self.in_thread:
                await asyncio.to_thread(self._handle_all, batch)
                for handle, _ in batch:
                    queue.delete(handle)
                    self.handled += 1
                continue
            for handle, message in batch:
                handler(message)
                queue.delete(handle)
                self.handled += 1

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
