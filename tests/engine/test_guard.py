"""`make guard` on real changes: prod's program at HEAD brought up once on a throwaway state, then trees changed the
ways a pull request changes them previewed over it by the real engine. Renaming the Kafka cluster, changing the
Postgres clusters' storage class or NATS's volume claim is refused with the resource and field named; more Trino
workers pass; an accepted replacement passes with its reason."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from ops.checks.guard import Finding
from ops.engine.releases import base_tree
from ops.engine.toolchain import Toolchain
from ops.guard import over_base

pytestmark = pytest.mark.engine

Preview = Callable[[Path], list[Finding]]
KAFKA = "kubernetes:kafka.strimzi.io/v1:Kafka"
PG_CLUSTER = "kubernetes:postgresql.cnpg.io/v1:Cluster"
STATEFUL_SET = "kubernetes:apps/v1:StatefulSet"


@pytest.fixture(scope="module")
def preview(tc: Toolchain) -> Iterator[Preview]:
    with over_base("prod", "HEAD") as found:
        yield found


def changed(tmp_path: Path, config: dict[str, Any] | None = None, files: dict[str, tuple[str, str]] | None = None) -> Path:
    """This repository at HEAD, with prod's stack values merged with `config` and `files` edited (old, new)."""
    tree = base_tree("HEAD", tmp_path / "head")
    stack = tree / "Pulumi.prod.yaml"
    document = yaml.safe_load(stack.read_text())
    for section, values in (config or {}).items():
        key = f"openfoundry:{section}"
        document["config"][key] = _merge(document["config"].get(key) or {}, values)
    stack.write_text(yaml.safe_dump(document, sort_keys=False))
    for path, (old, new) in (files or {}).items():
        text = (tree / path).read_text()
        assert old in text, f"{path} no longer holds {old!r}"
        (tree / path).write_text(text.replace(old, new))
    return tree


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        merged[key] = _merge(merged.get(key) or {}, value) if isinstance(value, dict) else value
    return merged


def refused(found: list[Finding], kind: str) -> list[Finding]:
    return [f for f in found if f.refused and f.type == kind]


def test_renaming_the_kafka_cluster_is_refused_naming_it(preview: Preview, tmp_path: Path) -> None:
    found = preview(changed(tmp_path, files={"components/ingestion/clients.py": ('CLUSTER = "openfoundry"',
                                                                                 'CLUSTER = "foundry-bus"')}))
    (kafka,) = refused(found, KAFKA)
    assert (kafka.op, kafka.name, kafka.protected) == ("delete", "openfoundry", True)
    assert "Kafka foundry-bus is created instead" in kafka.fields[0]


def test_a_new_storage_class_for_the_postgres_clusters_is_refused_as_a_frozen_field(preview: Preview,
                                                                                   tmp_path: Path) -> None:
    found = preview(changed(tmp_path, config={"storage": {"blockStorageClass": "ceph-faster-rbd"}}))
    clusters = refused(found, PG_CLUSTER)
    assert clusters and all(f.op == "update" and "spec.storage.storageClass" in f.fields for f in clusters)
    (cassandra,) = refused(found, "kubernetes:k8ssandra.io/v1alpha1:K8ssandraCluster")
    assert cassandra.fields == ("spec.cassandra.storageConfig.cassandraDataVolumeClaimSpec.storageClassName",)


def test_a_larger_nats_volume_claim_is_refused_as_a_replacement(preview: Preview, tmp_path: Path) -> None:
    found = preview(changed(tmp_path, config={"control": {"nats": {"storageSize": "200Gi"}}}))
    (nats,) = refused(found, STATEFUL_SET)
    assert nats.op == "replace" and any("volumeClaimTemplates" in field for field in nats.fields)


def test_more_trino_workers_pass(preview: Preview, tmp_path: Path) -> None:
    found = preview(changed(tmp_path, config={"compute": {"trino": {"workers": 5}}}))
    assert [f for f in found if f.refused] == []


def test_an_accepted_replacement_passes_with_its_reason(preview: Preview, tmp_path: Path) -> None:
    accepted = {"accepted": [{"type": STATEFUL_SET, "name": "nats", "field": "spec.volumeClaimTemplates",
                              "release": "2027.01", "reason": "the streams are mirrored to the new set first"}]}
    tree = changed(tmp_path, config={"control": {"nats": {"storageSize": "200Gi"}}})
    (tree / "data" / "accepted-replacements.yaml").write_text(yaml.safe_dump(accepted))
    found = preview(tree)
    (nats,) = [f for f in found if f.type == STATEFUL_SET]
    assert not nats.refused and "mirrored to the new set" in nats.accepted and "2027.01" in nats.accepted
