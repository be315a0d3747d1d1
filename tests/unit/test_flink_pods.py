"""The pods the pack judges for a FlinkDeployment, against what the Flink operator 1.15.0 makes of one.

FlinkConfigBuilder.applyPodTemplate merges `podTemplate` with `jobManager.podTemplate` for the JobManager and with
`taskManager.podTemplate` for the TaskManagers (FlinkUtils.mergeInto: objects field by field, arrays position by
position, or name by name where the deployment sets `kubernetes.operator.pod-template.merge-arrays-by-name`).
Flink then writes into `flink-main-container`, made when the template has none, the image and the role's resources
as requests and limits (flink-kubernetes InitJobManagerDecorator, InitTaskManagerDecorator), and puts it after the
template's other containers (KubernetesJobManagerFactory and KubernetesTaskManagerFactory: the pod without its main
container, then addToContainers)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "policies"))

from openfoundry_policies.catalog import POLICIES, violations
from openfoundry_policies.flink import flink_pod, flink_pod_template
from openfoundry_policies.operands import flink_pods
from openfoundry_policies.resources import Resource

MAIN = "flink-main-container"
IMAGE = "ghcr.io/openfoundry/iceberg-maintenance:0.1.0"
SPEC: dict[str, Any] = {
    "image": IMAGE,
    "podTemplate": {
        "metadata": {"labels": {"team": "lake"}},
        "spec": {"securityContext": {"runAsNonRoot": True},
                 "containers": [{"name": MAIN, "securityContext": {"readOnlyRootFilesystem": True}},
                                {"name": "sidecar", "image": "sidecar:1", "args": ["a"]}],
                 "volumes": [{"name": "tmp", "emptyDir": {}}]}},
    "jobManager": {"resource": {"cpu": 1, "memory": "2048m"},
                   "podTemplate": {"spec": {"containers": [{}, {"securityContext": {"privileged": True}}]}}},
    "taskManager": {"resource": {"cpu": 2, "memory": "4096m"},
                    "podTemplate": {"metadata": {"labels": {"role": "worker"}},
                                    "spec": {"securityContext": {"runAsUser": 1000},
                                             "containers": [{"env": [{"name": "E", "value": "1"}]},
                                                            {"args": ["b"]}, {"name": "extra", "image": "x:1"}]}}},
}


def sized(cpu: str, memory: str) -> dict[str, Any]:
    return {"requests": {"cpu": cpu, "memory": memory}, "limits": {"cpu": cpu, "memory": memory}}


def test_the_job_manager_pod_is_the_common_template_merged_with_its_own_position_by_position() -> None:
    assert flink_pod(SPEC, "jobManager") == {
        "securityContext": {"runAsNonRoot": True},
        "containers": [
            {"name": "sidecar", "image": "sidecar:1", "args": ["a"], "securityContext": {"privileged": True}},
            {"name": MAIN, "securityContext": {"readOnlyRootFilesystem": True}, "image": IMAGE,
             "resources": sized("1", "2048m")}],
        "volumes": [{"name": "tmp", "emptyDir": {}}],
    }


def test_the_task_manager_pod_merges_its_own_template_and_keeps_an_array_value_of_the_common_one() -> None:
    # an element that is not an object takes nothing from the update: the sidecar keeps args ["a"]
    assert flink_pod(SPEC, "taskManager") == {
        "securityContext": {"runAsNonRoot": True, "runAsUser": 1000},
        "containers": [
            {"name": "sidecar", "image": "sidecar:1", "args": ["a"]},
            {"name": "extra", "image": "x:1"},
            {"name": MAIN, "securityContext": {"readOnlyRootFilesystem": True}, "env": [{"name": "E", "value": "1"}],
             "image": IMAGE, "resources": sized("2", "4096m")}],
        "volumes": [{"name": "tmp", "emptyDir": {}}],
    }


def test_a_template_without_the_main_container_gets_it_last() -> None:
    spec = {"image": IMAGE, "jobManager": {"resource": {"memory": "1024m"}},
            "podTemplate": {"spec": {"containers": [{"name": "sidecar", "image": "sidecar:1"}]}}}
    assert flink_pod(spec, "jobManager")["containers"] == [
        {"name": "sidecar", "image": "sidecar:1"},
        {"name": MAIN, "image": IMAGE, "resources": {"requests": {"memory": "1024m"}, "limits": {"memory": "1024m"}}}]
    assert flink_pod({"image": IMAGE}, "taskManager") == {
        "containers": [{"name": MAIN, "image": IMAGE, "resources": {"requests": {}, "limits": {}}}]}


def test_each_role_is_a_pod_with_its_own_labels_ports_and_template() -> None:
    pods = {pod.name: pod for pod in flink_pods(flink_deployment(SPEC))}
    job, task = pods["FlinkDeployment lake/maint: jobmanager"], pods["FlinkDeployment lake/maint: taskmanager"]
    assert job.labels == {"team": "lake", "app": "maint", "type": "flink-native-kubernetes", "component": "jobmanager"}
    assert task.labels == {"team": "lake", "role": "worker", "app": "maint", "type": "flink-native-kubernetes",
                           "component": "taskmanager"}
    assert job.ports == {"rest": 8081, "jobmanager-rpc": 6123, "blobserver": 6124}
    assert task.ports == {"taskmanager-rpc": 6122}
    assert (job.spec, task.spec) == (flink_pod(SPEC, "jobManager"), flink_pod(SPEC, "taskManager"))


def flink_deployment(spec: dict[str, Any]) -> Resource:
    return Resource("kubernetes:flink.apache.org/v1beta1:FlinkDeployment",
                    {"metadata": {"name": "maint", "namespace": "lake"}, "spec": spec})


def task_manager_with(pod: dict[str, Any]) -> dict[str, Any]:
    return {"image": IMAGE, "taskManager": {"podTemplate": {"spec": pod}}}


@pytest.mark.parametrize(("policy", "spec", "expected"), [
    ("no-privileged-containers", SPEC, "FlinkDeployment lake/maint: jobmanager: container sidecar is privileged"),
    ("no-host-path-volumes", task_manager_with({"volumes": [{"name": "h", "hostPath": {"path": "/var"}}]}),
     "FlinkDeployment lake/maint: taskmanager mounts the node's /var"),
    ("no-host-namespaces", task_manager_with({"hostNetwork": True}),
     "FlinkDeployment lake/maint: taskmanager shares the node's Network namespace"),
    ("no-duplicate-env-vars", task_manager_with({"containers": [{"name": MAIN, "env": [{"name": "E"}, {"name": "E"}]}]}),
     "FlinkDeployment lake/maint: taskmanager: container flink-main-container sets E twice (the last one wins silently)"),
    ("postgres-only-through-cloudnativepg", task_manager_with({"containers": [{"name": "db", "image": "postgres:16"}]}),
     "FlinkDeployment lake/maint: taskmanager runs Postgres (postgres:16) outside CloudNativePG"),
], ids=["jobmanager privileged", "taskmanager hostPath", "taskmanager hostNetwork", "taskmanager env twice",
        "taskmanager postgres"])
def test_a_breakage_in_one_role_is_reported_for_that_role_only(policy: str, spec: dict[str, Any], expected: str) -> None:
    check = next(p for p in POLICIES if p.name == policy)
    assert [message for _, message in violations(check, [flink_deployment(spec)])] == [expected]


def test_a_role_template_of_the_wrong_shape_is_read_as_the_operator_merges_it() -> None:
    """FlinkUtils.mergeInto: an object takes nothing from what is not an object, and a list's element that is not
    an object takes nothing either. The pack reads raw inputs, so it must not fail on them."""
    spec = {"image": IMAGE,
            "podTemplate": {"spec": {"securityContext": {"runAsNonRoot": True}, "containers": [{"name": "a"}]}},
            "taskManager": {"podTemplate": {"spec": {"securityContext": "restricted", "containers": ["b"]}}}}
    assert flink_pod(spec, "taskManager") == {
        "securityContext": {"runAsNonRoot": True},
        "containers": [{"name": "a"}, {"name": MAIN, "image": IMAGE, "resources": {"requests": {}, "limits": {}}}]}


def test_without_the_option_a_named_container_of_a_role_lands_by_position() -> None:
    spec = {**SPEC, "taskManager": {"podTemplate": {"spec": {"containers": [
        {"name": "sidecar", "securityContext": {"privileged": True}}]}}}}
    assert flink_pod(spec, "taskManager")["containers"] == [
        {"name": "sidecar", "securityContext": {"readOnlyRootFilesystem": True, "privileged": True}},
        {"name": "sidecar", "image": "sidecar:1", "args": ["a"]},
        {"name": MAIN, "image": IMAGE, "resources": {"requests": {}, "limits": {}}}]


def test_a_deployment_that_asks_for_it_merges_lists_by_name() -> None:
    """`kubernetes.operator.pod-template.merge-arrays-by-name` is a dynamic option: a FlinkDeployment may set it in
    its flinkConfiguration, and lists whose every element has a name are then merged name by name."""
    spec = {**SPEC, "flinkConfiguration": {"kubernetes.operator.pod-template.merge-arrays-by-name": "true"},
            "taskManager": {"podTemplate": {"spec": {"containers": [
                {"name": "sidecar", "securityContext": {"privileged": True}}, {"name": "extra", "image": "x:1"}]}}}}
    assert flink_pod(spec, "taskManager")["containers"] == [
        {"name": "sidecar", "image": "sidecar:1", "args": ["a"], "securityContext": {"privileged": True}},
        {"name": "extra", "image": "x:1"},
        {"name": MAIN, "securityContext": {"readOnlyRootFilesystem": True}, "image": IMAGE,
         "resources": {"requests": {}, "limits": {}}}]


def test_the_template_keeps_its_image_without_spec_image_and_its_other_resources() -> None:
    """Flink overwrites the main container's image only when `kubernetes.container.image` is set (the operator sets
    it from `spec.image`), and only cpu and memory of its resources."""
    spec = {"jobManager": {"resource": {"cpu": 1, "memory": "2048m"}},
            "podTemplate": {"spec": {"containers": [{"name": MAIN, "image": "custom:1", "resources": {
                "requests": {"ephemeral-storage": "1Gi", "memory": "1m"}, "limits": {"ephemeral-storage": "2Gi"}}}]}}}
    assert flink_pod(spec, "jobManager")["containers"] == [{"name": MAIN, "image": "custom:1", "resources": {
        "requests": {"ephemeral-storage": "1Gi", "cpu": "1", "memory": "2048m"},
        "limits": {"ephemeral-storage": "2Gi", "cpu": "1", "memory": "2048m"}}}]


def test_merging_by_name_holds_at_every_depth_and_only_for_lists_that_are_all_named() -> None:
    """FlinkUtils.mergeInto is the same at every depth of the template: a list whose elements all have a name
    merges by name, any other by position, however deep (the keys below are illustrative)."""
    common = {"spec": {"groups": [{"items": [{"name": "a", "v": 1}, {"name": "b", "v": 1}]}],
                       "ports": [{"containerPort": 8000}]}}
    role = {"spec": {"groups": [{"items": [{"name": "b", "v": 2}]}], "ports": [{"containerPort": 9000}]}}
    spec = {"flinkConfiguration": {"kubernetes.operator.pod-template.merge-arrays-by-name": "True"},
            "podTemplate": common, "taskManager": {"podTemplate": role}}
    assert flink_pod_template(spec, "taskManager") == {"spec": {
        "groups": [{"items": [{"name": "a", "v": 1}, {"name": "b", "v": 2}]}], "ports": [{"containerPort": 9000}]}}
    named = {**spec, "podTemplate": {"spec": {"groups": [{"name": "g", "items": common["spec"]["groups"][0]["items"]}]}},
             "taskManager": {"podTemplate": {"spec": {"groups": [{"name": "g", "items": [{"name": "b", "v": 2}]}]}}}}
    assert flink_pod_template(named, "taskManager") == {"spec": {
        "groups": [{"name": "g", "items": [{"name": "a", "v": 1}, {"name": "b", "v": 2}]}]}}
