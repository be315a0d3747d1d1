"""OpenFoundry's policy pack: the architecture's contracts and Kubernetes hygiene (catalog.POLICIES)."""
