"""The toolchain pins agree everywhere they appear: versions module, requirements and Go wrapper modules."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

from foundry import versions

REPO = Path(__file__).resolve().parents[2]


def requirement(name: str) -> str:
    text = (REPO / "requirements.txt").read_text()
    match = re.search(rf"^{re.escape(name)}==(\S+)$", text, re.MULTILINE)
    assert match, f"{name} is not pinned in requirements.txt"
    return match.group(1)


def go_requirement(module_dir: str, module: str) -> str:
    text = (REPO / "toolchain" / module_dir / "go.mod").read_text()
    match = re.search(rf"^(?:require)?\s+{re.escape(module)} (\S+)", text, re.MULTILINE)
    assert match, f"{module} is not required by toolchain/{module_dir}/go.mod"
    return match.group(1)


def test_python_sdks_match_the_engine_pins() -> None:
    assert requirement("pulumi") == versions.PULUMI_SDK_VERSION
    assert requirement("pulumi-kubernetes") == versions.PULUMI_KUBERNETES_VERSION
    assert requirement("pulumi-policy") == versions.PULUMI_POLICY_VERSION


def test_the_virtualenv_runs_the_pinned_sdks() -> None:
    installed = {name: metadata.version(name) for name in ("pulumi", "pulumi-kubernetes", "pulumi-policy")}
    assert installed == {"pulumi": versions.PULUMI_SDK_VERSION, "pulumi-kubernetes": versions.PULUMI_KUBERNETES_VERSION,
                         "pulumi-policy": versions.PULUMI_POLICY_VERSION}


def test_go_wrapper_modules_build_the_pinned_versions() -> None:
    assert go_requirement("pulumi", "github.com/pulumi/pulumi/pkg/v3") == f"v{versions.PULUMI_CLI_VERSION}"
    assert go_requirement("pulumi", "github.com/pulumi/pulumi/sdk/v3") == f"v{versions.PULUMI_CLI_VERSION}"
    host = versions.PULUMI_LANGUAGE_PYTHON_MODULE
    assert go_requirement("language-python", host) == versions.PULUMI_LANGUAGE_PYTHON_PSEUDO
    line = f"v{versions.PULUMI_LANGUAGE_PYTHON_LINE}"
    assert go_requirement("language-python", "github.com/pulumi/pulumi/pkg/v3") == line
    assert go_requirement("language-python", "github.com/pulumi/pulumi/sdk/v3") == line
    provider = go_requirement("kubernetes", "github.com/pulumi/pulumi-kubernetes/provider/v4")
    assert provider == versions.PULUMI_KUBERNETES_PROVIDER_PSEUDO


def test_go_sums_are_committed() -> None:
    for module_dir in ("pulumi", "language-python", "kubernetes"):
        assert (REPO / "toolchain" / module_dir / "go.sum").stat().st_size > 0


def test_crd_wrapper_modules_pin_the_operator_api_versions() -> None:
    for name, source in versions.CRD_SOURCES.items():
        if not isinstance(source, versions.GoApiCrds):
            continue
        assert go_requirement(f"../crds/{name}", source.module) == source.version
        assert go_requirement(f"../crds/{name}", "sigs.k8s.io/controller-tools") == versions.CONTROLLER_TOOLS_VERSION


def test_every_go_crd_source_has_its_wrapper_and_no_wrapper_is_orphaned() -> None:
    go_sources = {name for name, source in versions.CRD_SOURCES.items() if isinstance(source, versions.GoApiCrds)}
    wrappers = {path.parent.name for path in (REPO / "crds").glob("*/go.mod")}
    assert go_sources == wrappers


def test_every_operator_chart_has_a_crd_source_or_a_stated_reason() -> None:
    # NACK's CRDs are hand-written upstream (UNCHECKED_KINDS); ceph-csi-drivers' are not rendered by the program
    without_source = set(versions.CHARTS) - set(versions.CRD_SOURCES)
    assert without_source == {"rook-ceph", "ceph-csi-drivers", "nack"}
    assert versions.CRD_SOURCES["rook"].operator_version == versions.CHARTS["rook-ceph"].version
    assert versions.CRD_SOURCES["strimzi"].operator_version == versions.CHARTS["strimzi"].version
    assert versions.CRD_SOURCES["cert-manager"].operator_version == versions.CHARTS["cert-manager"].version
    assert versions.CRD_SOURCES["trust-manager"].operator_version == versions.CHARTS["trust-manager"].version
    assert versions.CRD_SOURCES["flink-kubernetes-operator"].operator_version == \
        versions.CHARTS["flink-kubernetes-operator"].version


def test_the_rehearsal_clusters_modules_are_the_pinned_versions() -> None:
    assert go_requirement("../cluster/kubernetes", "k8s.io/kubernetes") == f"v{versions.LOCAL_KUBERNETES_VERSION}"
    assert go_requirement("../cluster/kwok", "go.etcd.io/etcd/server/v3") == f"v{versions.ETCD_VERSION}"
    assert go_requirement("../cluster/kwok", "sigs.k8s.io/kwok") == f"v{versions.KWOK_VERSION}"
    # every staging module kubernetes lists at v0.0.0 is replaced by its published release of the same minor
    staging = f"v0.{versions.LOCAL_KUBERNETES_VERSION.split('.', 1)[1]}"
    replaced = re.findall(r"^\s+(k8s\.io/[a-z-]+) => \1 (v\S+)$", (REPO / "cluster" / "kubernetes" / "go.mod").read_text(),
                          re.MULTILINE)
    assert len(replaced) == 31 and {version for _, version in replaced} == {staging}
