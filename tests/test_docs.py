"""The README's copy-and-paste snippets work as written: image names kpt can pull and a
validator Kubernetes version the default image serves."""

from __future__ import annotations

import re

import yaml

from krm_fn.check import schemas
from tests.conftest import REPO

README = (REPO / "README.md").read_text()


def yaml_blocks() -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", README, flags=re.S)


def test_every_image_name_in_the_docs_names_its_registry() -> None:
    # kpt expands a name with no registry part (no "/") to gcr.io/kpt-fn/<name>, which fails
    names = re.findall(r"(?:image:|--image)\s+(\S+)", README)
    names += re.findall(r"(?:image|--image|-t)\s+(\S*ray-tenants\S*)", (REPO / "Dockerfile").read_text())
    names = [n for n in names if "ray-tenants" in n]
    assert len(names) >= 5
    assert [n for n in names if "/" not in n] == []


def test_the_validator_example_asks_for_a_version_the_default_image_keeps() -> None:
    versions = [
        doc["spec"]["kubernetesVersion"]
        for block in yaml_blocks()
        for doc in yaml.safe_load_all(block)
        if isinstance(doc, dict)
        and doc.get("kind") == "RayTenantsCheck"
        and "kubernetesVersion" in doc["spec"]
    ]
    assert versions, "the README shows a RayTenantsCheck with kubernetesVersion"
    kept = schemas.versions()[-3:]  # the Dockerfile's default KEEP_SCHEMAS=supported
    for version in versions:
        assert schemas.resolve_version(version) in kept
