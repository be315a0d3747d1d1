"""Kafka ACL bindings as Strimzi's User Operator makes them from a KafkaUser's rules, for a real broker's Admin API."""

from __future__ import annotations

import re
from typing import Any

from confluent_kafka import admin as admin_api

from ops.boot.rendered import Obj, name_of

USER_PATTERNS = {"literal": "LITERAL", "prefix": "PREFIXED"}          # a KafkaUser rule's (Strimzi's CRD)


def snake(operation: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", operation).upper()


def bindings(principal: str, kind: str, name: str, pattern: str, operations: list[str], host: str = "*",
             allow: bool = True) -> list[Any]:
    """One AclBinding per operation, as Strimzi's SimpleAclRule makes them: the cluster as `kafka-cluster`, literal
    (`BROKER` is the Admin API's code for Kafka's CLUSTER resource)."""
    kinds = {"topic": "TOPIC", "group": "GROUP", "cluster": "BROKER", "transactionalId": "TRANSACTIONAL_ID"}
    cluster = kind == "cluster"
    return [admin_api.AclBinding(admin_api.ResourceType[kinds[kind]], "kafka-cluster" if cluster else name,
                                 admin_api.ResourcePatternType["LITERAL" if cluster else pattern], principal, host,
                                 admin_api.AclOperation[snake(op)],
                                 admin_api.AclPermissionType.ALLOW if allow else admin_api.AclPermissionType.DENY)
            for op in operations]


def user_bindings(user: Obj) -> list[Any]:
    """A KafkaUser's rules, each with its own host and type (Strimzi's defaults: `*`, allow)."""
    return [b for acl in (user["spec"].get("authorization") or {}).get("acls") or []
            for b in bindings(f"User:{name_of(user)}", acl["resource"]["type"], acl["resource"].get("name", ""),
                              USER_PATTERNS[acl["resource"].get("patternType", "literal")], acl["operations"],
                              acl.get("host", "*"), acl.get("type", "allow") == "allow")]
