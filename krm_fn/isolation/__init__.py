"""Tenant isolation, secure by default: Ray auth, NetworkPolicies, gateway authorization, quotas.

`settings` parses `spec.access`, `spec.quota` and each tenant's `groups` and `quota`; `auth`,
`network`, `gateway` and `quota` each generate one layer and hold its facts (names, labels,
ports, paths) for the check to verify against; `generate` puts them together for the expansion.
"""
