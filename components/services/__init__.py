"""The catalog services of every plane: one ServiceWorkload per service, grouped by plane (PlaneServices)."""
