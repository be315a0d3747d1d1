"""Builders every plane uses: Kubernetes shapes, security contexts, generated credentials, platform endpoints,
and the site a plane is built for."""
