"""Manifest check: schema, policy and drift findings for a tenant setup, before it reaches a cluster.

The modules follow the pipeline: `krm_fn.inputs` loads files or KRM items as manifests with
their origin -> `schemas` (kubernetes-validate and CRDs, with `crd_rules` for their CEL rules)
and `drift` (generated files against what the function generates now) -> `checker` runs them
with the Spot, routing and KubeRay rules of their own modules -> `report` (one line per
finding). Front ends: `command` (`ray-tenants check PATH...`) and `validator` (kpt, a
`RayTenantsCheck` functionConfig).
"""
