"""Read a nats.conf as NATS itself does (maps, arrays, quoted and bare strings, `$VAR` references), so tests can
assert on the accounts, users and permissions the program registered rather than on a dict a test built.

Covers the syntax of NATS' configuration format (nats-io/nats-server conf/lex.go): `key: value`, `key = value`,
`key value`, `key { ... }`, arrays `[ ... ]`, values separated by commas or newlines, `#` and `//` comments.
A `$NAME` value is returned as the string `$NAME` (the server resolves it from its environment).
"""

from __future__ import annotations

import re
from typing import Any

_TOKEN = re.compile(r'''
    (?P<space>[ \t\r]+|\#[^\n]*|//[^\n]*)
  | (?P<newline>\n)
  | (?P<punct>[{}\[\],:=])
  | (?P<quoted>"(?:[^"\\]|\\.)*")
  | (?P<bare>[^\s{}\[\],:="]+(?::[^\s{}\[\],"]+)*)
''', re.VERBOSE)


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens, position = [], 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise ValueError(f"nats.conf: cannot read {text[position:position + 30]!r}")
        kind = match.lastgroup or ""
        if kind != "space":
            tokens.append((kind, match.group()))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.at = 0

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.at] if self.at < len(self.tokens) else ("end", "")

    def take(self) -> tuple[str, str]:
        token = self.peek()
        self.at += 1
        return token

    def skip_separators(self) -> None:
        while self.peek()[0] == "newline" or self.peek()[1] == ",":
            self.take()

    def mapping(self, closing: str | None) -> dict[str, Any]:
        result: dict[str, Any] = {}
        while True:
            self.skip_separators()
            kind, text = self.peek()
            if (closing and text == closing) or kind == "end":
                if closing:
                    self.take()
                return result
            key = self.take()[1].strip('"')
            if self.peek()[1] in (":", "="):
                self.take()
            result[key] = self.value()

    def array(self) -> list[Any]:
        items: list[Any] = []
        while True:
            self.skip_separators()
            if self.peek()[1] == "]":
                self.take()
                return items
            items.append(self.value())

    def value(self) -> Any:
        kind, text = self.take()
        if kind in ("end", "newline") or text in ("}", "]", ",", ":", "="):
            raise ValueError(f"nats.conf: a value expected, found {text or 'the end'!r}")
        if text == "{":
            return self.mapping("}")
        if text == "[":
            return self.array()
        if kind == "quoted":
            return text[1:-1].replace('\\"', '"')
        if re.fullmatch(r"-?\d+", text):
            return int(text)
        if text in ("true", "false"):
            return text == "true"
        return text


def parse(text: str) -> dict[str, Any]:
    return _Parser(text).mapping(None)
