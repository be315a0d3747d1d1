"""The bench's floor for the policy pack: the pack's policies by name and kind, each validating nothing.

pulumi-policy deserializes every resource's props once per policy it runs, so a pack of 55 policies costs the SDK
55 deserializations per resource before a single check of ours runs. The difference between the real pack and
this one is what the checks themselves cost."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "policies"))

from openfoundry_policies.catalog import POLICIES
from pulumi_policy import (
    EnforcementLevel,
    PolicyPack,
    ResourceValidationPolicy,
    StackValidationPolicy,
)


def nothing(args: object, report: object) -> None:
    return None


PolicyPack(name="openfoundry-floor", enforcement_level=EnforcementLevel.MANDATORY, policies=[
    StackValidationPolicy(spec.name, spec.full_description, nothing) if spec.stack_check is not None
    else ResourceValidationPolicy(spec.name, spec.full_description, nothing) for spec in POLICIES])
