"""The security contexts every pod of the platform runs with (Pod Security Standard `restricted`)."""

from __future__ import annotations

import pulumi_kubernetes as k8s


def restricted_pod(uid: int) -> k8s.core.v1.PodSecurityContextArgs:
    return k8s.core.v1.PodSecurityContextArgs(
        run_as_non_root=True, run_as_user=uid, run_as_group=uid, fs_group=uid,
        seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
    )


def restricted_container(read_only_root: bool = True) -> k8s.core.v1.SecurityContextArgs:
    return k8s.core.v1.SecurityContextArgs(
        allow_privilege_escalation=False, read_only_root_filesystem=read_only_root, run_as_non_root=True,
        privileged=False, capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
    )
