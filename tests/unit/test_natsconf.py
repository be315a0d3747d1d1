"""The tests' nats.conf reader reads what nats-server reads, and refuses what it refuses."""

from __future__ import annotations

import pytest

from tests.natsconf import parse


def test_it_reads_maps_arrays_variables_and_bare_addresses() -> None:
    assert parse('listen: 0.0.0.0:4222\naccounts { A: { users: [ { user: "a", password: $PW_A } ] } }\nx = 3\n') == {
        "listen": "0.0.0.0:4222", "accounts": {"A": {"users": [{"user": "a", "password": "$PW_A"}]}}, "x": 3}


# each refused by nats-server 2.12.1 -t (a key with nothing after it)
@pytest.mark.parametrize("text", ["listen: 0.0.0.0:4222\nXX\n", "listen: 0.0.0.0:4222\nXX",
                                  "accounts { A: { users: [ { user: a, password: } ] } }"])
def test_a_key_without_a_value_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="a value expected"):
        parse(text)
