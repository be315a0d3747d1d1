"""Enough of NATS' client protocol (nats-io docs, "Client Protocol") to call the JetStream API as a user: connect
with a user and password, request, read the reply. The boot's NACK stand-in and checks use it; no library needed."""

from __future__ import annotations

import itertools
import json
import socket
import time
from typing import Any

from ops.engine.toolchain import ToolchainError


class NatsError(ToolchainError):
    """The server refused the connection or a request (its -ERR line or JetStream API error)."""


class Frames:
    """A socket read as NATS' protocol frames: lines ending in CRLF, and payloads of a given size after them."""

    sock: socket.socket
    buffer: bytes

    def _fill(self, deadline: float) -> bool:
        self.sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            return False
        self.buffer += data
        return bool(data)

    def _line(self, deadline: float) -> str:
        """The next line, "" when none comes by `deadline`."""
        while b"\r\n" not in self.buffer:
            if time.monotonic() >= deadline or not self._fill(deadline):
                return ""
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line.decode(errors="replace")

    def _bytes(self, size: int, deadline: float) -> bytes:
        while len(self.buffer) < size + 2 and self._fill(deadline):
            pass
        data, self.buffer = self.buffer[:size], self.buffer[size + 2:]
        return data


class Connection(Frames):
    """One client connection to host:port as user; `with` closes it."""

    def __init__(self, host: str, port: int, user: str, password: str, timeout: float = 5.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buffer, self.timeout, self.ids = b"", timeout, itertools.count(1)
        if not self._line().startswith("INFO "):
            raise NatsError(f"{host}:{port} is not a NATS server")
        options = {"user": user, "pass": password, "verbose": False, "pedantic": False, "protocol": 1,
                   "headers": True, "no_responders": True, "name": "make-boot"}
        self._send(f"CONNECT {json.dumps(options)}\r\nPING\r\n".encode())
        reply = self._line()
        if reply != "PONG":
            raise NatsError(f"{user} on {host}:{port}: {reply or 'no answer'}")

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()

    def request(self, subject: str, body: dict[str, Any]) -> dict[str, Any]:
        """A JetStream API request's JSON reply; NatsError for no responders, an -ERR line or a timeout."""
        sid = next(self.ids)
        inbox = f"_INBOX.boot{sid}{int(time.monotonic() * 1000)}"
        payload = json.dumps(body).encode()
        self._send(f"SUB {inbox} {sid}\r\nPUB {subject} {inbox} {len(payload)}\r\n".encode() + payload + b"\r\n")
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            line = self._line(deadline)
            if line == "PING":
                self._send(b"PONG\r\n")
            elif line.startswith("-ERR"):
                raise NatsError(f"{subject}: {line}")
            elif line.startswith(("MSG ", "HMSG ")):
                return self._reply(line, subject, deadline)
        raise NatsError(f"{subject}: no reply within {self.timeout:.0f} s")

    def _reply(self, line: str, subject: str, deadline: float) -> dict[str, Any]:
        parts = line.split()
        data = self._bytes(int(parts[-1]), deadline)
        if line.startswith("HMSG "):
            headers, data = data[:int(parts[-2])], data[int(parts[-2]):]
            if b" 503" in headers.split(b"\r\n", 1)[0]:
                raise NatsError(f"{subject}: no responders (JetStream not ready, or not enabled for the account)")
        return dict(json.loads(data or b"{}"))

    def _send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _line(self, deadline: float | None = None) -> str:
        return super()._line(deadline or time.monotonic() + self.timeout)
