"""Manifest check: schema, policy and drift findings for a tenant setup, before it reaches a cluster.

The pipeline reads as its modules: `loader` (files or KRM items to documents with their origin)
-> `schema` (kubernetes-validate and CRD schemas), `policy` (Spot placement, routing, names) and
`drift` (generated files against what the function generates now), run by `checker` -> `report`
(one line per finding, or KRM results). Front ends: `standalone` (`ray-tenants check PATH...`)
and `validator` (a kpt validator receiving a ResourceList).

Nothing is imported here: the command line builds its parser without loading jsonschema.
"""

from __future__ import annotations

CHECKS = ("schema", "policy", "drift")
