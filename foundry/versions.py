"""Every version pin of the project, in one place.

The toolchain pins must agree with `requirements.txt` and the wrapper modules under `toolchain/`
(tests/unit/test_versions.py checks it). Chart and image pins carry a renovate comment so a bot can bump them.
This module is stdlib-only: the toolchain bootstrap imports it before any virtualenv exists.
"""

from __future__ import annotations

# --- Pulumi toolchain (built from Go modules by ops/toolchain.py) ---------------------------------
# The Go module proxy reachable here serves pkg/v3 and the Python language host together only at the
# 3.188 line (language host pseudo-version of 2025-08-06); the Python SDK is pinned to the same release.
PULUMI_VERSION = "3.188.0"
PULUMI_LANGUAGE_PYTHON_MODULE = "github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3"
PULUMI_LANGUAGE_PYTHON_PSEUDO = "v3.0.0-20250806165243-bee5e4fa4815"
# pulumi-kubernetes v4.25.0 is commit f47bc2d6f199; provider/v4 is untagged, so it is a pseudo-version.
PULUMI_KUBERNETES_VERSION = "4.25.0"
PULUMI_KUBERNETES_PROVIDER_PSEUDO = "v4.0.0-20260115033456-f47bc2d6f199"
PULUMI_POLICY_VERSION = "1.18.0"

# --- Kubernetes target -------------------------------------------------------------------------------
# Rook v1.20 needs Kubernetes >= 1.31; the schemas the manifests are validated against follow it.
KUBERNETES_VERSION = "1.31.0"
