"""ray-tenants: a KRM function that expands a tenant spec into per-namespace Ray clusters."""

__version__ = "0.1.0"
