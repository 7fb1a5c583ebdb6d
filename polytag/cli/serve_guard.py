"""What keeps ``polytag serve`` reachable and private: connection limits, header timeouts, the Host,
Origin and Content-Type gate, and a filter that keeps a repeated log line from filling the disk.

Why here and not in uvicorn's options: uvicorn closes an idle keep-alive connection, but never one whose
first request headers stall or trickle in, and its ``limit_concurrency`` answers 503 (a server error)
instead of making room. :class:`ConnectionGuard` wraps uvicorn's HTTP protocol class: every connection
must finish a request's headers within ``header_timeout_s``, and when ``max_connections`` are open the
connection that has waited longest without a request in flight is closed to admit the new one, so
``/health`` stays reachable while hundreds of stalled sockets are open.
"""

from __future__ import annotations

import asyncio
import logging
import os
import resource
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]

# connections asyncio may accept in one burst before any of them is seen (the listen backlog)
ACCEPT_BURST = 64
# descriptors kept free for the model, logs and the process's own files, and for one accept burst
FD_MARGIN = 32 + ACCEPT_BURST


def connection_room(requested: int) -> int:
    """``requested`` connections, capped so that open sockets stay under the open-file limit."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return max(1, requested)
    try:
        used = len(os.listdir("/proc/self/fd"))
    except OSError:
        used = 32
    return max(1, min(requested, soft - used - FD_MARGIN))


def _in_flight(protocol: Any) -> bool:
    cycle = getattr(protocol, "cycle", None)
    return cycle is not None and not cycle.response_complete


class ConnectionGuard:
    """Closes connections whose request headers do not arrive in time, and caps open connections."""

    def __init__(self, header_timeout_s: float, max_connections: int) -> None:
        self.header_timeout = float(header_timeout_s)
        self.max_connections = connection_room(max_connections)
        self.waiting: dict[Any, float] = {}  # open connections without a request in flight: since when
        self.timers: dict[Any, asyncio.TimerHandle] = {}
        self.open: set[Any] = set()
        self.closed_slow = 0  # connections closed because their headers stalled
        self.closed_for_room = 0  # idle connections closed to admit a new one

    def protocol_class(self, base: type) -> type:
        """A subclass of uvicorn's ``base`` HTTP protocol that reports to this guard."""
        guard = self

        class GuardedProtocol(base):  # type: ignore[misc, valid-type]
            def connection_made(self, transport: Any) -> None:
                super().connection_made(transport)
                guard.opened(self)

            def connection_lost(self, exc: Exception | None) -> None:
                guard.closed(self)
                super().connection_lost(exc)

            def data_received(self, data: bytes) -> None:
                super().data_received(data)
                guard.update(self)

            def on_response_complete(self) -> None:
                super().on_response_complete()
                guard.update(self)

        return GuardedProtocol

    def opened(self, protocol: Any) -> None:
        self.open.add(protocol)
        self.update(protocol)
        if len(self.open) > self.max_connections:
            idle = [p for p in self.waiting if p is not protocol]
            victim = min(idle, key=self.waiting.__getitem__) if idle else protocol
            self.closed_for_room += 1
            self._close(victim)

    def closed(self, protocol: Any) -> None:
        self.open.discard(protocol)
        self.waiting.pop(protocol, None)
        timer = self.timers.pop(protocol, None)
        if timer is not None:
            timer.cancel()

    def update(self, protocol: Any) -> None:
        """Start the header clock when a connection has no request in flight; stop it when it has."""
        if protocol not in self.open:
            return
        if _in_flight(protocol):
            self.waiting.pop(protocol, None)
            timer = self.timers.pop(protocol, None)
            if timer is not None:
                timer.cancel()
        elif protocol not in self.waiting:
            self.waiting[protocol] = time.monotonic()
            loop = asyncio.get_running_loop()
            self.timers[protocol] = loop.call_later(self.header_timeout, self._expire, protocol)

    def _expire(self, protocol: Any) -> None:
        self.timers.pop(protocol, None)
        if protocol in self.waiting and not _in_flight(protocol):
            self.closed_slow += 1
            self._close(protocol)

    def _close(self, protocol: Any) -> None:
        self.waiting.pop(protocol, None)
        transport = getattr(protocol, "transport", None)
        if transport is not None and not transport.is_closing():
            transport.close()


def host_name(value: str) -> str:
    """The host of a ``Host`` header or an ``Origin``'s authority, lower-cased, without the port."""
    value = value.strip().lower()
    if value.startswith("["):  # an IPv6 literal: [::1]:8000
        return value[: value.find("]") + 1] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class RequestGate:
    """ASGI middleware: answers only to allowed Host names, refuses cross-site Origins (403) and POST
    bodies that are not ``application/json`` (415, which a browser page cannot send without CORS
    permission). This keeps any web page the user visits from driving a server on localhost."""

    def __init__(self, app: ASGIApp, allowed_hosts: Iterable[str], on_refuse: Callable[[], None]) -> None:
        self.app = app
        self.allowed = {host_name(h) for h in allowed_hosts}
        self.any_host = "*" in self.allowed
        self.on_refuse = on_refuse

    def allows(self, host: str) -> bool:
        return self.any_host or host_name(host) in self.allowed

    def refusal(self, scope: Scope) -> tuple[int, str] | None:
        """The status and message a request is refused with, or None to let it through."""
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        host = headers.get("host", "")
        if not self.allows(host):
            shown = ", ".join(sorted(self.allowed))
            return 400, f"Host {host!r} is not served here (allowed: {shown}; see --allowed-host)"
        origin = headers.get("origin")
        if origin is not None and not self.allows(origin.split("://", 1)[-1].split("/", 1)[0]):
            return 403, f"requests from the web page at {origin!r} are not allowed"
        if scope.get("method") == "POST":
            media = headers.get("content-type", "").split(";", 1)[0].strip().lower()
            if media != "application/json":
                return 415, f"Content-Type must be application/json, got {media or 'none'!r}"
        return None

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        refused = self.refusal(scope) if scope["type"] == "http" else None
        if refused is None:
            await self.app(scope, receive, send)
            return
        from starlette.responses import JSONResponse

        self.on_refuse()
        status, message = refused
        response = JSONResponse({"detail": message}, status_code=status, headers={"Connection": "close"})
        await response(scope, receive, send)


class RepeatFilter(logging.Filter):
    """Lets each distinct log message (by its template) through at most ``burst`` times per ``interval_s``
    seconds; the next one let through says how many were held back. Why: a failing accept loop logged the
    same line 600,000 times in 50 seconds."""

    def __init__(self, burst: int = 5, interval_s: float = 60.0) -> None:
        super().__init__()
        self.burst = burst
        self.interval = interval_s
        self.seen: dict[tuple[str, str], list[float]] = {}  # key -> [window start, passed, held back]

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, str(record.msg).split("\n", 1)[0][:200])  # the first line names the event
        now = time.monotonic()
        state = self.seen.get(key)
        if state is None or now - state[0] >= self.interval:
            held = int(state[2]) if state else 0
            if len(self.seen) > 1000:
                self.seen.clear()
            self.seen[key] = [now, 1, 0]
            if held:
                record.msg = f"{record.msg} [{held} more like this held back in the last {self.interval:g} s]"
            return True
        if state[1] < self.burst:
            state[1] += 1
            return True
        state[2] += 1
        return False


GUARDED_LOGGERS = ("asyncio", "uvicorn.error", "polytag")


def install_repeat_filter(log_filter: RepeatFilter) -> Callable[[], None]:
    """Add the filter to the loggers a flood comes from; returns the function that removes it again."""
    loggers = [logging.getLogger(name) for name in GUARDED_LOGGERS]
    for logger in loggers:
        logger.addFilter(log_filter)

    def remove() -> None:
        for logger in loggers:
            logger.removeFilter(log_filter)

    return remove


__all__ = [
    "ConnectionGuard",
    "RepeatFilter",
    "RequestGate",
    "connection_room",
    "host_name",
    "install_repeat_filter",
]
