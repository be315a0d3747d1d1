"""Credentials and keys the platform generates itself, kept only as Pulumi secrets.

No `random` provider can be built offline here (its Go module is not served), so a password is a dynamic
resource run by the SDK's own provider host (`pulumi-resource-pulumi-python`): created once, stored encrypted
in the stack's state, unchanged on every later `pulumi up`, replaced only when its length changes.
"""

from __future__ import annotations

import base64
import secrets
import string
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider

PASSWORD_LENGTH = 32   # characters of 62: about 190 bits
ALPHABET = string.ascii_letters + string.digits


def new_password(length: int) -> str:
    """Letters and digits, a letter first: safe wherever a config re-parses it (NATS `$VAR`, JAAS, URLs)."""
    return secrets.choice(string.ascii_letters) + "".join(secrets.choice(ALPHABET) for _ in range(length - 1))


class _PasswordProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        length = int(props["length"])
        return CreateResult(id_=f"password-{secrets.token_hex(8)}", outs={"length": length, "value": new_password(length)})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = int(olds["length"]) != int(news["length"])   # olds: the outputs of create, which hold it
        return DiffResult(changes=changed, replaces=["length"] if changed else [], delete_before_replace=False)


class GeneratedPassword(Resource):
    """A random password of `length` letters and digits whose value exists only as a Pulumi secret."""

    value: pulumi.Output[str]

    def __init__(self, name: str, length: int = PASSWORD_LENGTH, opts: pulumi.ResourceOptions | None = None) -> None:
        secret_value = pulumi.ResourceOptions(additional_secret_outputs=["value"])
        super().__init__(_PasswordProvider(), name, {"length": length, "value": None},
                         pulumi.ResourceOptions.merge(opts, secret_value))


# A key in the form a binary parses it (foundry/upstream.py `key:<format>`): 32 random bytes as standard base64 or as
# hex, 16 bytes as hex, or 32 letters and digits.
KEY_FORMATS = {
    "base64-32": lambda: base64.b64encode(secrets.token_bytes(32)).decode(),
    "hex-32": lambda: secrets.token_hex(32),
    "hex-16": lambda: secrets.token_hex(16),
    "text-32": lambda: new_password(32),
}


class _KeyProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        key_format = str(props["format"])
        return CreateResult(id_=f"key-{secrets.token_hex(8)}", outs={"format": key_format,
                                                                      "value": KEY_FORMATS[key_format]()})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = olds["format"] != news["format"]
        return DiffResult(changes=changed, replaces=["format"] if changed else [], delete_before_replace=False)


class GeneratedKey(Resource):
    """A random key in one of `KEY_FORMATS`, generated once, whose value exists only as a Pulumi secret."""

    value: pulumi.Output[str]

    def __init__(self, name: str, key_format: str, opts: pulumi.ResourceOptions | None = None) -> None:
        if key_format not in KEY_FORMATS:
            raise ValueError(f"key format {key_format!r}: one of {', '.join(KEY_FORMATS)}")
        secret_value = pulumi.ResourceOptions(additional_secret_outputs=["value"])
        super().__init__(_KeyProvider(), name, {"format": key_format, "value": None},
                         pulumi.ResourceOptions.merge(opts, secret_value))
