"""The policy specs as Pulumi CrossGuard policies (imported only by the pack's entry point, never by tests)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pulumi_policy import (
    Policy,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

from openfoundry_policies.catalog import POLICIES, PolicySpec, violations
from openfoundry_policies.resources import Resource


def _plain(value: Any) -> Any:
    """The engine's props are proxies that raise on values unknown during preview (outputs of other resources:
    Secret data, generated names). The checks read plain dicts and lists in which such a value is None, so
    that reading known inputs never turns a mandatory policy into "can't run during preview"."""
    if isinstance(value, Mapping):
        return {str(key): _known(value, key) for key in value}
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return [_known(value, index) for index in range(len(value))]
    return value


def _known(container: Any, key: Any) -> Any:
    try:
        return _plain(container[key])
    except UnknownValueError:
        return None


def _resource(resource_type: str, props: Any, name: str, protect: bool) -> Resource:
    return Resource(resource_type, _plain(props) if isinstance(props, Mapping) else {}, name, protect)


def _resource_policy(spec: PolicySpec) -> Policy:
    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        resource = _resource(args.resource_type, args.props, args.name, bool(args.opts.protect))
        for _, message in violations(spec, [resource]):
            report(f"[{spec.source}] {message}", None)

    return ResourceValidationPolicy(spec.name, spec.full_description, validate)


def _stack_policy(spec: PolicySpec) -> Policy:
    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        resources = [_resource(r.resource_type, r.props, r.name, bool(r.opts.protect)) for r in args.resources]
        urns = {id(res): r.urn for res, r in zip(resources, args.resources, strict=True)}
        for resource, message in violations(spec, resources):
            report(f"[{spec.source}] {message}", urns.get(id(resource)) if resource is not None else None)

    return StackValidationPolicy(spec.name, spec.full_description, validate)


def policies() -> list[Policy]:
    return [_stack_policy(s) if s.stack_check is not None else _resource_policy(s) for s in POLICIES]
