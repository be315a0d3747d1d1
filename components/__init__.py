"""Pulumi components, one per plane of the OpenFoundry runtime topology."""
