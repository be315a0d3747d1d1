"""Where stacks created before the per-plane layout find their password provider.

Pulumi stores a dynamic resource's provider pickled by module path (`components.credentials._PasswordProvider`)
and unpickles it from state to refresh or delete the resource. The next `pulumi up` of such a stack records the
new path (components/common/credentials.py); until then, this name keeps `refresh` and `destroy` working.
"""

from components.common.credentials import _PasswordProvider

__all__ = ["_PasswordProvider"]
