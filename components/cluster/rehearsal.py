"""What differs when the stack goes to the rehearsal cluster (`make cluster`, `kubernetes.local: true`).

That cluster has a real API server, controllers and scheduler, but its nodes are simulated (KWOK): no container
runs, and no operator or storage provisioner runs either. A resource whose readiness only such a thing can bring
about is created as usual and then not awaited (`pulumi.com/skipAwait`), with the reason on the object; nothing
else is skipped. NACK's kinds are left out entirely (components/control/plane.py, `streams_as_code`): their CRDs
are in no artifact this machine can reach, and a hand-written stand-in would check nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import pulumi

SKIP_AWAIT = "pulumi.com/skipAwait"
REASON = "openfoundry.dev/rehearsal-skip-await"
NO_OPERATOR_REASONS = {
    "kubernetes:networking.k8s.io/v1:Ingress": "no ingress controller runs in the rehearsal cluster to publish an address",
}
CLAIMED_VOLUMES = ("their volume claims need the Ceph block class, and no Rook operator provisions volumes in the "
                   "rehearsal cluster")
NACK_LEFT_OUT = ("NACK's Streams, Consumers and Account are left out of the rehearsal: their CRDs are in no artifact "
                 "served here (NACK's Go module and chart are unreachable), and no hand-written stand-in is installed")


def skip_await_reason(type_: str, props: Mapping[str, Any]) -> str | None:
    """Why a resource cannot become ready in the rehearsal cluster, or None when it can and must be awaited."""
    if type_ in NO_OPERATOR_REASONS:
        return NO_OPERATOR_REASONS[type_]
    if type_ == "kubernetes:apps/v1:StatefulSet" and (props.get("spec") or {}).get("volumeClaimTemplates"):
        return CLAIMED_VOLUMES
    return None


def skip_awaits(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
    """A stack transform: the resources `skip_await_reason` names get the skip-await annotation and the reason."""
    reason = skip_await_reason(args.type_, args.props)
    if reason is None:
        return None
    props = dict(args.props)
    metadata = dict(cast(Mapping[str, Any], props.get("metadata") or {}))  # the program passes metadata as plain values
    metadata["annotations"] = {**(metadata.get("annotations") or {}), SKIP_AWAIT: "true", REASON: reason}
    props["metadata"] = metadata
    return pulumi.ResourceTransformResult(props=props, opts=args.opts)


def rehearse() -> None:
    pulumi.runtime.register_resource_transform(skip_awaits)
