"""NATS' client protocol over a socket (nats-io docs, "Client Protocol"): enough for tests to connect as a user,
subscribe, publish, request and read what the server sends, without a client library."""

from __future__ import annotations

import json
import secrets
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass

from ops.boot.natsclient import Frames


@dataclass(frozen=True)
class Event:
    kind: str            # MSG, ERR
    subject: str         # the message's subject, or the error line
    payload: bytes = b""
    reply: str = ""


class Client(Frames):
    """A connection as `user`, whose password is its name twice (tests/engine/test_nats.py write_config)."""

    def __init__(self, port: int, user: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buffer = b""
        assert self._line(time.monotonic() + 10).startswith("INFO ")
        options = {"user": user, "pass": user + user, "verbose": False, "pedantic": False, "protocol": 1,
                   "headers": True, "no_responders": True}
        self.send(f"CONNECT {json.dumps(options)}")
        self.sid = 0
        # its own inbox prefix, as a client library's random one: users of one account share its subject space
        self.inbox = f"_INBOX.{secrets.token_hex(8)}"

    def close(self) -> None:
        self.sock.close()

    def send(self, line: str, payload: bytes | None = None) -> None:
        self.sock.sendall((line + "\r\n").encode() + (payload + b"\r\n" if payload is not None else b""))

    def subscribe(self, subject: str, queue: str = "") -> None:
        self.sid += 1
        self.send(" ".join(part for part in ("SUB", subject, queue, str(self.sid)) if part))

    def publish(self, subject: str, payload: bytes, reply: str = "") -> None:
        self.send(" ".join(part for part in ("PUB", subject, reply, str(len(payload))) if part), payload)

    def request(self, subject: str, payload: bytes, seconds: float = 3.0) -> list[Event]:
        self.sid += 1
        inbox = f"{self.inbox}.{self.sid}"
        self.send(f"SUB {inbox} {self.sid}")
        self.publish(subject, payload, inbox)
        return self.messages(seconds)

    def ask(self, subject: str, payload: bytes, seconds: float = 10.0) -> Event | None:
        """A request's first answer (or the server's error), as soon as it comes; None when nothing comes."""
        self.sid += 1
        inbox = f"{self.inbox}.{self.sid}"
        self.send(f"SUB {inbox} {self.sid}")
        self.publish(subject, payload, inbox)
        return next(self._events(seconds), None)

    def messages(self, seconds: float = 2.0) -> list[Event]:
        """Everything the server sends within `seconds` (a PING first, so a fast server's silence is final)."""
        return list(self._events(seconds))

    def _events(self, seconds: float) -> Iterator[Event]:
        self.send("PING")
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            line = self._line(deadline)
            if not line:
                return
            if line.startswith(("MSG ", "HMSG ")):
                parts = line.split()
                body = self._bytes(int(parts[-1]), deadline + 5)
                if line.startswith("HMSG "):
                    body = body[int(parts[-2]):]   # after the headers
                    parts = parts[:-1]
                reply = parts[3] if len(parts) == 5 else ""
                yield Event("MSG", parts[1], body, reply)
            elif line == "PING":
                self.send("PONG")
            elif line.startswith("-ERR"):
                yield Event("ERR", line)
