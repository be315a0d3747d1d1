"""OpenFoundry platform program: configuration, catalog and pins shared by every plane."""
