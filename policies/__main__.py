"""OpenFoundry's policy pack (Pulumi CrossGuard): `pulumi preview --policy-pack policies/`.

Every policy defaults to mandatory; policies/config/<stack>.json lowers or disables per stack.
"""

from openfoundry_policies.pack import policies
from pulumi_policy import EnforcementLevel, PolicyPack

PolicyPack(name="openfoundry", enforcement_level=EnforcementLevel.MANDATORY, policies=policies())
