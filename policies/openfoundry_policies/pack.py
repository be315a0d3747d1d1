"""The policy specs as Pulumi CrossGuard policies (the pack's entry point imports this; tests read `KnownProps`)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
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


class KnownProps(Mapping[str, Any]):
    """The engine's props as the checks read them. The engine hands them over as proxies that raise on values
    unknown during preview (outputs of other resources: Secret data, generated names); here such a value reads as
    None, so that reading known inputs never turns a mandatory policy into "can't run during preview".

    A view, not a copy: the SDK builds a fresh proxy tree for every policy and resource, and most checks read a few
    fields of a few kinds, so converting only what is read keeps the pack's cost near the SDK's own."""

    __slots__ = ("_proxy",)

    def __init__(self, proxy: Mapping[str, Any]) -> None:
        self._proxy = proxy

    def __getitem__(self, key: str) -> Any:
        return _known(self._proxy, key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._proxy)

    def __len__(self) -> int:
        return len(self._proxy)

    def __repr__(self) -> str:
        """As the dict it stands for: messages quote a selector or an ACL's resource as the author wrote it."""
        return repr(dict(self.items()))


def _known(container: Any, key: Any) -> Any:
    try:
        value = container[key]
    except UnknownValueError:
        return None
    if isinstance(value, Mapping):
        return KnownProps(value)
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return [_known(value, index) for index in range(len(value))]
    return value


def _resource(resource_type: str, props: Any, name: str, protect: bool) -> Resource:
    return Resource(resource_type, KnownProps(props) if isinstance(props, Mapping) else {}, name, protect)


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
