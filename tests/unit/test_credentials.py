"""Generated passwords: the provider the engine runs, and what a GeneratedPassword registers (its value a secret)."""

from __future__ import annotations

import base64
import string

import dill
import pulumi

from components.common.credentials import GeneratedPassword, _PasswordProvider
from tests.mocks import RecordingMocks

LETTERS_AND_DIGITS = set(string.ascii_letters + string.digits)
# how Pulumi's RPC marks a secret value (sdk/go/common/resource/sig: Key, Secret)
SIG_KEY, SECRET_SIG = "4dabf18193072939515e22adb298388d", "1b47061264138c4ac30d75fd1eb44270"


def test_a_created_password_has_its_length_in_letters_and_digits_a_letter_first() -> None:
    created = [_PasswordProvider().create({"length": 32}) for _ in range(2)]
    values = [c.outs["value"] for c in created]
    assert [len(v) for v in values] == [32, 32] and values[0] != values[1]
    assert all(set(v) <= LETTERS_AND_DIGITS and v[0].isalpha() for v in values)
    assert [c.outs["length"] for c in created] == [32, 32] and created[0].id != created[1].id


def test_a_password_is_replaced_only_when_its_length_changes() -> None:
    provider = _PasswordProvider()
    same = provider.diff("p", {"length": 32, "value": "x"}, {"length": 32, "value": None})
    assert (same.changes, same.replaces) == (False, [])
    longer = provider.diff("p", {"length": 32, "value": "x"}, {"length": 40, "value": None})
    assert (longer.changes, longer.replaces, longer.delete_before_replace) == (True, ["length"], False)


def test_a_generated_password_registers_its_length_and_keeps_its_value_secret() -> None:
    mocks = RecordingMocks()
    seen: list[pulumi.ResourceOptions] = []
    pulumi.runtime.set_mocks(mocks, project="openfoundry", stack="dev", preview=False)

    def record(args: pulumi.ResourceTransformationArgs) -> None:
        seen.append(args.opts)

    @pulumi.runtime.test
    def register() -> None:
        pulumi.runtime.register_stack_transformation(record)
        GeneratedPassword("db-password", opts=pulumi.ResourceOptions(protect=True))

    register()
    [password] = mocks.registered
    assert password.type == "pulumi-python:dynamic:Resource"
    assert password.inputs["length"] == 32
    # the engine runs the provider the resource carries, as pulumi.dynamic's own host unpickles it
    serialized = password.inputs["__provider"]   # a secret, as the SDK marks it: {sig: secret, value: ...}
    assert serialized[SIG_KEY] == SECRET_SIG
    provider = dill.loads(base64.b64decode(serialized["value"]))
    assert len(provider.create({"length": 32}).outs["value"]) == 32
    assert [(o.additional_secret_outputs, o.protect) for o in seen] == [(["value"], True)]
