"""The lakehouse setup Job's program: bootstrap Lakekeeper, register the warehouse, grant the platform's clients.

It runs in the cluster (Python's standard library only: it is shipped in a ConfigMap to a stock Python image) as
the Job's own ServiceAccount, presenting its projected token (read afresh for every call: the kubelet renews it).
Every step is idempotent, so the Job may run again at any time:

1. wait for the catalog; bootstrap it unless it is (this identity becomes its operator; Lakekeeper docs/bootstrap.md);
2. create the warehouse on Lakekeeper's own bucket unless one of that name exists (S3 on RGW: path-style, no STS);
3. make the warehouse's direct grants to Kubernetes identities (`kubernetes~system:serviceaccount:<ns>:<name>`)
   exactly `GRANTS`, a JSON object of principal to relations (create, modify, select, ...): missing grants are
   written, grants to ServiceAccounts no longer listed are deleted. Grants to anyone else (people, through the
   issuer) are an administrator's and are left alone, except the issuer principals `GRANTS` names.

Lakekeeper rejects a grant that exists (409, and the whole batch with it), so the Job reads before it writes and
sends only the difference.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request
from typing import Any

MANAGED_PREFIX = "kubernetes~"   # the platform's own identities, whose grants this Job owns
Assignment = tuple[str, str]      # (relation, user)


def token() -> str:
    with open(os.environ["ICEBERG_TOKEN_FILE"], encoding="utf-8") as file:
        return file.read().strip()


def call(method: str, path: str, body: Any = None) -> Any:
    request = urllib.request.Request(
        os.environ["LAKEKEEPER_URL"] + path, method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token()}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        payload = response.read()
    return json.loads(payload) if payload else None


def wait_for_catalog(attempts: int = 120, pause: float = 5.0) -> None:
    for _ in range(attempts):
        try:
            with urllib.request.urlopen(os.environ["LAKEKEEPER_URL"] + "/health", timeout=5):
                return
        except (urllib.error.URLError, OSError):
            print(f"waiting for {os.environ['LAKEKEEPER_URL']}", flush=True)
            time.sleep(pause)
    raise SystemExit("the catalog never became healthy")


def bootstrap() -> None:
    if call("GET", "/management/v1/info").get("bootstrapped"):
        print("catalog already bootstrapped")
        return
    call("POST", "/management/v1/bootstrap", {"accept-terms-of-use": True, "is-operator": True})
    print("catalog bootstrapped; this Job's identity is its operator")


def warehouse_id(name: str) -> str:
    for warehouse in call("GET", "/management/v1/warehouse")["warehouses"]:
        if warehouse["name"] == name:
            print(f"warehouse {name} already registered")
            return str(warehouse["warehouse-id"])
    created = call("POST", "/management/v1/warehouse", {
        "warehouse-name": name,
        "storage-profile": {"type": "s3", "bucket": os.environ["BUCKET_NAME"], "region": "us-east-1",
                            "endpoint": os.environ["S3_ENDPOINT"], "path-style-access": True,
                            "flavor": "s3-compat", "sts-enabled": False},
        "storage-credential": {"type": "s3", "credential-type": "access-key",
                               "aws-access-key-id": os.environ["AWS_ACCESS_KEY_ID"],
                               "aws-secret-access-key": os.environ["AWS_SECRET_ACCESS_KEY"]},
    })
    print(f"warehouse {name} registered on bucket {os.environ['BUCKET_NAME']}")
    return str(created["warehouse-id"])


def wanted(grants: dict[str, list[str]]) -> set[Assignment]:
    return {(relation, user) for user, relations in grants.items() for relation in relations}


def reconcile(current: set[Assignment], want: set[Assignment]) -> tuple[set[Assignment], set[Assignment]]:
    """What to write and what to delete: the grants `want` lacks are left alone unless they are a managed
    identity's (or a named principal's) grants of a relation this Job hands out."""
    handed_out = {relation for relation, _ in want} | {"create", "modify", "select", "describe"}
    named = {user for _, user in want}
    stale = {(relation, user) for relation, user in current - want
             if relation in handed_out and (user.startswith(MANAGED_PREFIX) or user in named)}
    return want - current, stale


def grant(warehouse: str, grants: dict[str, list[str]]) -> None:
    path = f"/management/v1/permissions/warehouse/{warehouse}/assignments"
    current = {(a["type"], a["user"]) for a in call("GET", path)["assignments"] if "user" in a}
    writes, deletes = reconcile(current, wanted(grants))
    if not writes and not deletes:
        print(f"grants on the warehouse unchanged ({len(current)})")
        return
    call("POST", path, {"writes": [{"type": r, "user": u} for r, u in sorted(writes)],
                        "deletes": [{"type": r, "user": u} for r, u in sorted(deletes)]})
    for relation, user in sorted(writes):
        print(f"granted {relation} to {user}")
    for relation, user in sorted(deletes):
        print(f"revoked {relation} from {user}")


def main() -> None:
    wait_for_catalog()
    bootstrap()
    grant(warehouse_id(os.environ["WAREHOUSE"]), json.loads(os.environ["GRANTS"]))


if __name__ == "__main__":
    try:
        main()
    except urllib.error.HTTPError as error:
        sys.exit(f"{error.url}: HTTP {error.code} {error.read().decode(errors='replace')[:500]}")
