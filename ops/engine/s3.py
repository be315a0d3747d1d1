"""An S3 endpoint for the engine tier: moto's server (its standalone mode, a separate process) on 127.0.0.1.

With `keys=True` it checks requests as S3 does: after the set-up below (an IAM user allowed every S3 action, its
access key, the bucket; and a user per `readers` allowed `read_actions` only) every request must be signed with a
known key and be allowed by its user's policy, so a wrong or missing secret, or a reader's write, is refused with
S3's own error. moto counts the unauthenticated set-up requests (INITIAL_NO_AUTH_ACTION_COUNT).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ops.engine.kafka import free_port

REGION = "us-east-1"
USER_REQUESTS = 3   # CreateUser, PutUserPolicy, CreateAccessKey; the buckets are made with the first user's key


def allowing(actions: Sequence[str]) -> str:
    return json.dumps({"Version": "2012-10-17",
                       "Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": "*"}]})


@dataclass(frozen=True)
class S3:
    endpoint: str           # http://127.0.0.1:<port>
    port: int
    access_key: str
    secret_key: str
    readers: dict[str, tuple[str, str]]     # name: (access key, secret key)

    def client(self) -> Any:
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=self.access_key,
                            aws_secret_access_key=self.secret_key, region_name=REGION)


@contextmanager
def serving(*buckets: str, keys: bool = True, readers: Sequence[str] = (),
            read_actions: Sequence[str] = ("s3:ListBucket", "s3:GetObject")) -> Iterator[S3]:
    port = free_port()
    setup = USER_REQUESTS * (1 + len(readers))
    env = {"PATH": "/usr/bin:/bin", **({"INITIAL_NO_AUTH_ACTION_COUNT": str(setup)} if keys else {})}
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        access_key, secret_key = _wait_for_keys(endpoint, keys)
        granted = {name: _user(endpoint, name, allowing(read_actions)) for name in readers} if keys else {}
        store = S3(endpoint, port, access_key, secret_key, granted)
        for bucket in buckets:
            store.client().create_bucket(Bucket=bucket)
        yield store
    finally:
        server.terminate()
        server.wait()


def _wait_for_keys(endpoint: str, keys: bool) -> tuple[str, str]:
    """The server's first answer: a user's fresh access key (keys) or any key (no checking)."""
    import boto3

    deadline = time.monotonic() + 30
    while True:
        try:
            if not keys:
                boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="any", aws_secret_access_key="any",
                             region_name=REGION).list_buckets()
                return "any", "any"
            return _user(endpoint, "backups", allowing(["s3:*"]))
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def _user(endpoint: str, name: str, policy: str) -> tuple[str, str]:
    import boto3

    iam = boto3.client("iam", endpoint_url=endpoint, aws_access_key_id="setup", aws_secret_access_key="setup",
                       region_name=REGION)
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="s3", PolicyDocument=policy)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]
