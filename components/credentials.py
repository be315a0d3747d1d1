"""Credentials the platform generates itself, kept only as Pulumi secrets.

No `random` provider can be built offline here (its Go module is not served), so a password is a dynamic
resource run by the SDK's own provider host (`pulumi-resource-pulumi-python`): created once, stored encrypted
in the stack's state, unchanged on every later `pulumi up`, replaced only when its length changes.
"""

from __future__ import annotations

import secrets
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider

PASSWORD_BYTES = 32


class _PasswordProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        length = int(props["length"])
        return CreateResult(id_=f"password-{secrets.token_hex(8)}",
                            outs={"length": length, "value": secrets.token_urlsafe(length)})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = int(olds.get("length", 0)) != int(news["length"])
        return DiffResult(changes=changed, replaces=["length"] if changed else [], delete_before_replace=False)


class GeneratedPassword(Resource):
    """A random password (URL-safe, `length` random bytes) whose value exists only as a Pulumi secret."""

    value: pulumi.Output[str]

    def __init__(self, name: str, length: int = PASSWORD_BYTES, opts: pulumi.ResourceOptions | None = None) -> None:
        secret_value = pulumi.ResourceOptions(additional_secret_outputs=["value"])
        super().__init__(_PasswordProvider(), name, {"length": length, "value": None},
                         pulumi.ResourceOptions.merge(opts, secret_value))
