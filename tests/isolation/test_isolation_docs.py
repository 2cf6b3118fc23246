"""The README's Isolation section works as written: its spec renders, and the check passes it."""

from __future__ import annotations

import re
import shlex
import shutil
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import REPO, run

SECTION = REPO.joinpath("README.md").read_text().split("\n## Isolation\n", 1)[1].split("\n## ", 1)[0]


def blocks(kind: str) -> list[str]:
    return re.findall(rf"```{kind}\n(.*?)```", SECTION, re.S)


def test_the_spec_renders_and_every_layer_checks(tmp_path: Path) -> None:
    (spec_text,) = blocks("yaml")
    (commands,) = blocks("sh")
    (tmp_path / "tenants.yaml").write_text(spec_text)
    shutil.copytree(REPO / "base", tmp_path / "base")
    for line in commands.strip().splitlines():
        words = shlex.split(line.split("#", 1)[0])
        out = words.index(">") if ">" in words else None
        args = words[1:out]
        done = run([sys.executable, "-m", "krm_fn", *args], cwd=tmp_path, PYTHONPATH=str(REPO))
        assert done.returncode == 0, (line, done.stdout.decode(), done.stderr.decode())
        if out is not None:
            (tmp_path / words[out + 1]).write_bytes(done.stdout)
    objects: list[dict[str, Any]] = [
        d for d in yaml.safe_load_all((tmp_path / "tenants.out.yaml").read_text()) if d
    ]
    kinds = {(o["kind"], o["metadata"]["name"]) for o in objects}
    for expected in [
        ("RequestAuthentication", "ray-tenants"),
        ("AuthorizationPolicy", "ray-tenant-mlops"),
        ("AuthorizationPolicy", "ray-tenant-research"),
        ("NetworkPolicy", "ray-tenant-ray-pods"),
        ("NetworkPolicy", "ray-tenant-ray-head"),
        ("ResourceQuota", "ray-tenant"),
        ("Role", "ray-tenant-token-reader"),
    ]:
        assert expected in kinds
    quota = next(o for o in objects if o["kind"] == "ResourceQuota" and o["metadata"]["namespace"] == "mlops")
    assert quota["spec"]["hard"] == {
        "requests.cpu": "64",
        "limits.memory": "256Gi",
        "requests.nvidia.com/gpu": "8",
    }
    # the warning the section quotes for rayAuth: none is the one the function gives
    quoted = "anyone who reaches ray.example.com/mlops/ can run code in namespace mlops"
    assert quoted in SECTION
    (tmp_path / "none.yaml").write_text(spec_text.replace("rayAuth: token ", "rayAuth: none  "))
    done = run(
        [sys.executable, "-m", "krm_fn", "render", "--config", "none.yaml", "base/"],
        cwd=tmp_path,
        PYTHONPATH=str(REPO),
    )
    assert done.returncode == 0 and quoted in done.stderr.decode()
