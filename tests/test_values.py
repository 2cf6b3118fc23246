"""Values are never changed: every scalar keeps its spelling, and every string reads as a string.

pyyaml reads YAML 1.1, which kubectl (go-yaml v2) and kustomize and kpt (yaml.v3) do not share:
`0777`, `12:30`, `on`, `.5` or `0x1F` must come back as written, and a string like `y`, `1e3` or
`0o17` must be written quoted wherever the function writes it. The real tools are the judges.
"""

from __future__ import annotations

import io
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from krm_fn import krm, render, yamlio
from tests.conftest import REPO, require_tool, run

RAYCLUSTER = (REPO / "base" / "raycluster.yaml").read_text()
# As a user writes them in a base: each is misread or respelled by a YAML 1.1 round trip.
SPELLINGS = [
    "0777",
    "12:30",
    "2024-01-01T10:00:00Z",
    "2001-12-14",
    "on",
    "Off",
    "y",
    ".5",
    "0x1F",
    "0o17",
    "1e3",
    "+1e3",
    "1_000",
    "08",
    ".inf",
    "-.Inf",
    ".NaN",
    "~",
    "",
    "123456789012345678901234567890",
    "'0777'",
    '"on"',
    "!!binary aGVsbG8=",
]
# Strings that some Kubernetes reader takes for a bool, a number or null when written plain;
# valid label values, so they can go into namespaceLabels too.
AMBIGUOUS_LABELS = ["y", "n", "Y", "N", "yes", "on", "true", "False", "null", "1e3", "1E10", "0o17", "0x1F"]
AMBIGUOUS_LABELS += ["0b101", "08", "1_000", "123", "1.5", "1.5e3", "2024-01-01"]
# not valid label values, so patch values only
AMBIGUOUS_VALUES = ["+1e3", "~", "12:30", ".inf", "=", "<<", "-.5", "NULL", "+_1"]
QUOTES = ("'", '"', "|", ">")


def configmap(name: str, values: list[str], local: bool = False) -> str:
    """A ConfigMap whose data holds each value exactly as spelled (`k<i>: <spelling>`)."""
    annotations = '  annotations:\n    config.kubernetes.io/local-config: "true"\n' if local else ""
    data = "".join(f"  k{i}: {v}".rstrip(" ") + "\n" for i, v in enumerate(values))
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n{annotations}data:\n{data}"


def spec(labels: dict[str, str] | None = None, patch_values: list[str] | None = None) -> str:
    """A tenant spec for tenants `a` and `b`; `a` gets the labels and annotation patches."""
    label_lines = "".join(f"        l{i}: {json.dumps(v)}\n" for i, v in enumerate((labels or {}).values()))
    ops = "".join(
        f"            - {{op: add, path: /metadata/annotations/p{i}, value: {json.dumps(v)}}}\n"
        for i, v in enumerate(patch_values or [])
    )
    if ops:
        ops = "            - {op: add, path: /metadata/annotations, value: {}}\n" + ops
    patches = (
        f"      patches:\n        - target: {{kind: RayCluster, name: raycluster}}\n          patch:\n{ops}"
        if ops
        else ""
    )
    return (
        "apiVersion: fn.ray-tenants.dev/v1alpha1\nkind: RayTenants\nmetadata:\n  name: tenants\n"
        '  annotations:\n    config.kubernetes.io/local-config: "true"\nspec:\n  tenants:\n'
        f"    - name: a\n{'      namespaceLabels:' + chr(10) + label_lines if label_lines else ''}{patches}"
        "    - name: b\n"
        "  routing:\n    hosts: [ray.example.com]\n    gateways: [asm-ingress/asm-ingressgateway]\n"
    )


def resource_list(docs: list[str], function_config: str) -> bytes:
    """A ResourceList holding the documents as items, their text kept line for line."""

    def indented(doc: str, first: str) -> str:
        lines = doc.strip("\n").split("\n")
        return "".join(f"{first if i == 0 else '  '}{line}\n" for i, line in enumerate(lines))

    items = "".join(indented(d, "- ") for d in docs)
    config = indented(function_config, "  ")
    return f"apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n{items}functionConfig:\n{config}".encode()


def scalars(node: yaml.Node) -> Iterator[yaml.ScalarNode]:
    """Every scalar node below `node`, keys included."""
    if isinstance(node, yaml.ScalarNode):
        yield node
    elif isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            yield from scalars(key)
            yield from scalars(value)
    elif isinstance(node, yaml.SequenceNode):
        for value in node.value:
            yield from scalars(value)


def child(node: yaml.Node | None, *path: str) -> yaml.Node | None:
    for key in path:
        node = yamlio.child_node(node, key)
    return node


def spelled(node: yaml.Node | None) -> list[tuple[str, str, str]]:
    """The data values of a ConfigMap node: (tag if explicit, text, quoting) each."""
    data = child(node, "data")
    assert isinstance(data, yaml.MappingNode)
    out = []
    for _, value in data.value:
        implicit = value.tag in ("tag:yaml.org,2002:str", yamlio.NOT_A_STRING) or not value.style
        out.append(("" if implicit else value.tag, value.value, value.style or ""))
    return out


def documents(text: str) -> list[yaml.Node]:
    return list(yaml.compose_all(text, Loader=yamlio.Loader))


def configmaps(nodes: list[yaml.Node]) -> dict[tuple[str, str], yaml.Node]:
    """ConfigMap nodes by (namespace, name)."""
    out = {}
    for node in nodes:
        kind = child(node, "kind")
        if isinstance(kind, yaml.ScalarNode) and kind.value == "ConfigMap":
            ns, name = child(node, "metadata", "namespace"), child(node, "metadata", "name")
            assert isinstance(name, yaml.ScalarNode)
            out[(ns.value if isinstance(ns, yaml.ScalarNode) else "", name.value)] = node
    return out


def expected_spelling() -> list[tuple[str, str, str]]:
    return spelled(configmaps(documents(configmap("x", SPELLINGS)))[("", "x")])


# -- each spelling survives every front end --------------------------------------------------


def krm_output(raw: bytes) -> str:
    out, err = io.StringIO(), io.StringIO()
    assert krm.run(io.BytesIO(raw), out, err) == 0, err.getvalue()
    return out.getvalue()


def test_krm_pass_through_and_copies_keep_every_spelling() -> None:
    raw = resource_list(
        [configmap("kept", SPELLINGS, local=True), configmap("base", SPELLINGS), RAYCLUSTER], spec()
    )
    items = child(documents(krm_output(raw))[0], "items")
    assert isinstance(items, yaml.SequenceNode)
    found = configmaps(items.value)
    # without kpt's file annotations the base itself is replaced by its copies
    assert sorted(found) == [("", "kept"), ("a", "base"), ("b", "base")]
    for key, node in found.items():
        assert spelled(node) == expected_spelling(), key


def test_krm_pass_through_is_byte_for_byte() -> None:
    kept = configmap("kept", SPELLINGS, local=True)
    out = krm_output(resource_list([kept, RAYCLUSTER], spec()))
    assert resource_list([kept], "").decode().split("functionConfig")[0].split("items:\n")[1] in out


def test_render_and_legacy_plugin_keep_every_spelling(tmp_path: Path, fn_exec: Path) -> None:
    (tmp_path / "base.yaml").write_text(configmap("base", SPELLINGS) + "---\n" + RAYCLUSTER)
    (tmp_path / "tenants.yaml").write_text(spec())
    out, err = io.StringIO(), io.StringIO()
    assert render.main([str(tmp_path / "base.yaml")], str(tmp_path / "tenants.yaml"), out, err) == 0
    plugin = run(
        [fn_exec, "legacy-plugin", tmp_path / "tenants.yaml"], stdin=(tmp_path / "base.yaml").read_bytes()
    )
    assert plugin.returncode == 0, plugin.stderr.decode()
    for stream in (out.getvalue(), plugin.stdout.decode()):
        found = configmaps(documents(stream))
        assert sorted(found) == [("a", "base"), ("b", "base")]
        for key, node in found.items():
            assert spelled(node) == expected_spelling(), key


def test_loader_reads_timestamps_and_base_60_as_strings() -> None:
    assert yamlio.load("a: 2024-01-01T10:00:00Z\nb: 12:30\nc: 2001-12-14\nd: =\ne: <<\n") == {
        "a": "2024-01-01T10:00:00Z",
        "b": "12:30",
        "c": "2001-12-14",
        "d": "=",
        "e": "<<",
    }


def test_an_explicit_string_tag_becomes_quotes() -> None:
    # libyaml writes no tag on a plain scalar: `!!str 0777` comes back as '0777', read the same
    doc = yamlio.load_documents("a: !!str 0777\nb: !!str y\nc: !!int '3'\n")[0]
    assert yamlio.dump_node(yamlio.to_node(doc.data, like=doc.node)) == "a: '0777'\nb: 'y'\nc: 3\n"


def test_a_changed_value_is_written_as_new() -> None:
    # the same text under another value must not be copied: 0777 read as 511, now 8
    doc = yamlio.load_documents("a: 0777\nb: on\nc: y\n")[0]
    changed = {"a": 8, "b": False, "c": "n"}
    assert yamlio.dump_node(yamlio.to_node(changed, like=doc.node)) == "a: 8\nb: false\nc: 'n'\n"


# -- strings that look like other types are quoted on every output path ----------------------


OURS = re.compile(r"(?:.*/)?[lp][0-9]+")  # the test's label and annotation names, in a patch path too


def mappings(node: yaml.Node) -> Iterator[yaml.MappingNode]:
    if isinstance(node, yaml.MappingNode):
        yield node
        for _, value in node.value:
            yield from mappings(value)
    elif isinstance(node, yaml.SequenceNode):
        for value in node.value:
            yield from mappings(value)


def plain_ambiguous(text: str) -> list[str]:
    """The test's labels and annotation values written plain in `text`, in kustomization patches too."""
    bad = []
    for doc in documents(text):
        for mapping in mappings(doc):
            pairs = {k.value: v for k, v in mapping.value if isinstance(k, yaml.ScalarNode)}
            path = pairs.get("path")
            for key, value in pairs.items():
                if not isinstance(value, yaml.ScalarNode):
                    continue
                ours = OURS.fullmatch(key) or (
                    key == "value" and isinstance(path, yaml.ScalarNode) and OURS.fullmatch(path.value)
                )
                if ours and not value.style:
                    bad.append(value.value)
                if key == "patch":
                    bad.extend(plain_ambiguous(value.value))
    return bad


def written_values(text: str) -> set[str]:
    """Every string value in `text` (kustomization patch texts read too)."""
    out: set[str] = set()
    for node in documents(text):
        for scalar in scalars(node):
            out.add(scalar.value)
            if "\n" in scalar.value and scalar.value.lstrip().startswith("- op:"):
                out |= written_values(scalar.value)
    return out


LABELS = {f"l{i}": v for i, v in enumerate(AMBIGUOUS_LABELS)}
PATCH_VALUES = AMBIGUOUS_LABELS + AMBIGUOUS_VALUES


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder with base/ (a RayCluster and its kustomization) and tenants.yaml."""
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "raycluster.yaml").write_text(RAYCLUSTER)
    (tmp_path / "base" / "kustomization.yaml").write_text("resources:\n- raycluster.yaml\n")
    (tmp_path / "tenants.yaml").write_text(spec(LABELS, PATCH_VALUES))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def assert_all_quoted(text: str, where: str) -> None:
    assert plain_ambiguous(text) == [], where
    missing = set(PATCH_VALUES) - written_values(text)
    assert not missing, f"{where}: {sorted(missing)} not written at all"


def test_every_output_path_quotes_ambiguous_strings(workdir: Path, fn_exec: Path) -> None:
    config = (workdir / "tenants.yaml").read_text()
    assert_all_quoted(krm_output(resource_list([RAYCLUSTER], config)), "KRM output")
    out, err = io.StringIO(), io.StringIO()
    assert render.main(["base"], "tenants.yaml", out, err) == 0, err.getvalue()
    assert_all_quoted(out.getvalue(), "render stdout")
    plugin = run([fn_exec, "legacy-plugin", "tenants.yaml"], cwd=workdir, stdin=RAYCLUSTER.encode())
    assert plugin.returncode == 0, plugin.stderr.decode()
    assert_all_quoted(plugin.stdout.decode(), "legacy plugin stdout")
    out = io.StringIO()
    assert render.main(["base"], "tenants.yaml", out, err, output="overlays", out_dir="overlays") == 0
    namespace = (workdir / "overlays" / "a" / "namespace.yaml").read_text()
    assert plain_ambiguous(namespace) == []
    assert set(AMBIGUOUS_LABELS) <= written_values(namespace)
    assert_all_quoted((workdir / "overlays" / "a" / "kustomization.yaml").read_text(), "kustomization")


def kubectl_decodes(kubectl: str, file: Path) -> None:
    """kubectl's own decoder reads the file: a bool or number where a string belongs fails it."""
    proc = run([kubectl, "create", "--dry-run=client", "--validate=false", "-f", file])
    stderr = proc.stderr.decode()
    assert "unable to decode" not in stderr, stderr
    # with no cluster, a file that decodes gets as far as looking its kinds up
    assert proc.returncode == 0 or "unable to recognize" in stderr, stderr


def test_kubectl_and_kustomize_read_the_strings_back(workdir: Path) -> None:
    kubectl = require_tool("kubectl")
    out, err = io.StringIO(), io.StringIO()
    assert render.main(["base"], "tenants.yaml", out, err, output="overlays", out_dir="overlays") == 0
    kubectl_decodes(kubectl, workdir / "overlays" / "a" / "namespace.yaml")
    built = run([kubectl, "kustomize", workdir / "overlays" / "a"])
    assert built.returncode == 0, built.stderr.decode()
    (workdir / "built.yaml").write_bytes(built.stdout)
    kubectl_decodes(kubectl, workdir / "built.yaml")
    objs = {(o["kind"]): o for o in yaml.load_all(built.stdout, Loader=yamlio.Loader)}
    assert objs["Namespace"]["metadata"]["labels"] == {
        **LABELS,
        "app.kubernetes.io/managed-by": "ray-tenants",
        "fn.ray-tenants.dev/tenant": "a",
    }
    annotations = objs["RayCluster"]["metadata"]["annotations"]
    assert {k: v for k, v in annotations.items() if k.startswith("p")} == {
        f"p{i}": v for i, v in enumerate(PATCH_VALUES)
    }
    # the negative control: the same Namespace with one label written plain is refused
    plain = (workdir / "overlays" / "a" / "namespace.yaml").read_text().replace("'1e3'", "1e3")
    (workdir / "plain.yaml").write_text(plain)
    proc = run([kubectl, "create", "--dry-run=client", "--validate=false", "-f", workdir / "plain.yaml"])
    assert "unable to decode" in proc.stderr.decode()


def test_kpt_render_writes_quoted_namespace_labels(workdir: Path, fn_exec: Path) -> None:
    require_tool("kpt")
    kubectl = require_tool("kubectl")
    pkg = workdir / "pkg"
    pkg.mkdir()
    shutil.copytree(workdir / "base", pkg / "base")
    shutil.copy(workdir / "tenants.yaml", pkg / "tenants.yaml")
    (pkg / "Kptfile").write_text(kptfile(fn_exec))
    proc = run(["kpt", "fn", "render", "--allow-exec", pkg])
    assert proc.returncode == 0, proc.stderr.decode()
    namespace = pkg / "overlays" / "a" / "namespace.yaml"
    assert plain_ambiguous(namespace.read_text()) == []
    assert set(AMBIGUOUS_LABELS) <= written_values(namespace.read_text())
    kubectl_decodes(kubectl, namespace)


# -- the property: any spelling, through the real kpt, reads as kustomize reads the base -----


def kptfile(fn_exec: Path) -> str:
    return (
        "apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: values\n  annotations:\n"
        '    config.kubernetes.io/local-config: "true"\npipeline:\n  mutators:\n'
        f"    - exec: {fn_exec}\n      configPath: tenants.yaml\n"
    )


# every YAML 1.1 / 1.2 reading that differs between readers, and some ordinary values
TEXTS = [
    *AMBIGUOUS_LABELS,
    *AMBIGUOUS_VALUES,
    *["0777", "0o17", "0O17", "0X1F", "-0x1F", "0b_1", "1__0", "12:30:00", "1:2", "190:20:30.15"],
    *["2024-01-01T10:00:00Z", "2001-12-14 21:59:43.10 -5", "2024-1-2", ".5", "1.", "-0", "+12"],
    *["OFF", "No", "YES", "Null", "", "TRUE", ".NAN", "+.inf", "1e-3", "6.02e+23", "0.", "00"],
    *["hello", "a b", "ray-head", "3.14", "v1.2.3", "1.2.3", "0x", "e3", "0xG", "yes please"],
]


@st.composite
def spelling(draw: st.DrawFn) -> str:
    """A value as a user could write it: plain (where YAML allows), single- or double-quoted."""
    text = draw(st.sampled_from(TEXTS))
    style = draw(st.sampled_from(["plain", "single", "double"]))
    # kustomize refuses infinities and NaN (they are no JSON); kpt itself, with a `cat` pipeline
    # too, rewrites a plain `<<` value as `!!merge <<`
    unwritable = text == "<<" or text.lstrip("+-").lower() in (".inf", ".nan")
    if style == "single" or (style == "plain" and unwritable):
        return "'" + text.replace("'", "''") + "'"
    if style == "double":
        return json.dumps(text)
    return text


def with_head_env(raycluster: str, values: list[str]) -> str:
    """The RayCluster with an env list on its head container, each value spelled as given."""
    head = "          - name: ray-head\n"
    assert head in raycluster
    env = "".join(
        f"              - name: E{i}\n                value: {v}".rstrip(" ") + "\n"
        for i, v in enumerate(values)
    )
    return raycluster.replace(head, f"{head}            env:\n{env}", 1)


def kustomize_build(kubectl: str, folder: Path, files: list[str]) -> dict[str, Any]:
    """What `kubectl kustomize` reads from these files of a folder: objects by kind."""
    (folder / "kustomization.yaml").write_text("resources:\n" + "".join(f"- {f}\n" for f in files))
    built = run([kubectl, "kustomize", folder])
    assert built.returncode == 0, built.stderr.decode()
    return {o["kind"]: o for o in yaml.load_all(built.stdout, Loader=yamlio.Loader)}


def reading(node: yaml.Node | None) -> list[tuple[str, bool]]:
    """Each scalar below `node` as its text and whether it is quoted: what decides every reader."""
    return [(s.value, s.style in QUOTES) for s in scalars(node)] if node is not None else []


def head_env(obj: Any) -> Any:
    return obj["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]["env"]


@settings(
    max_examples=12,
    deadline=None,
    # every example runs kpt and kubectl: a failure is reported as found, not shrunk for minutes
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    data_values=st.lists(spelling(), min_size=20, max_size=40),
    env_values=st.lists(spelling(), min_size=5, max_size=12),
)
def test_kpt_render_keeps_bases_and_copies_read_as_kustomize_reads_the_base(
    tmp_path_factory: pytest.TempPathFactory, fn_exec: Path, data_values: list[str], env_values: list[str]
) -> None:
    require_tool("kpt")
    kubectl = require_tool("kubectl")
    pkg = tmp_path_factory.mktemp("pkg")
    (pkg / "base").mkdir()
    (pkg / "base" / "raycluster.yaml").write_text(with_head_env(RAYCLUSTER, env_values))
    (pkg / "base" / "configmap.yaml").write_text(configmap("settings", data_values))
    (pkg / "base" / "kustomization.yaml").write_text("resources:\n- raycluster.yaml\n- configmap.yaml\n")
    (pkg / "tenants.yaml").write_text(spec())
    (pkg / "Kptfile").write_text(kptfile(fn_exec))
    before = {p.name: p.read_bytes() for p in sorted((pkg / "base").iterdir())}
    proc = run(["kpt", "fn", "render", "--allow-exec", pkg])
    assert proc.returncode == 0, proc.stderr.decode()
    assert {p.name: p.read_bytes() for p in sorted((pkg / "base").iterdir())} == before
    base_files = {
        f: documents((pkg / "base" / f).read_text())[0] for f in ("configmap.yaml", "raycluster.yaml")
    }
    base = kustomize_build(kubectl, pkg / "base", ["raycluster.yaml", "configmap.yaml"])
    for tenant in ("a", "b"):
        folder = pkg / "overlays" / tenant
        files = ["configmap_settings.yaml", "raycluster_raycluster.yaml"]
        # each value keeps its text and quoting in the file
        copy = documents((folder / files[0]).read_text())[0]
        assert reading(child(copy, "data")) == reading(child(base_files["configmap.yaml"], "data"))
        cluster = documents((folder / files[1]).read_text())[0]
        path = ("spec", "headGroupSpec", "template", "spec", "containers")
        env, base_env = child(cluster, *path), child(base_files["raycluster.yaml"], *path)
        assert isinstance(env, yaml.SequenceNode) and isinstance(base_env, yaml.SequenceNode)
        assert reading(child(env.value[0], "env")) == reading(child(base_env.value[0], "env"))
        # and kustomize reads each copy's values as it reads the base's
        built = kustomize_build(kubectl, folder, files)
        assert built["ConfigMap"]["data"] == base["ConfigMap"]["data"]
        assert head_env(built["RayCluster"]) == head_env(base["RayCluster"])


def test_the_hostile_spellings_come_back_as_written() -> None:
    raw = (REPO / "tests" / "testdata" / "hostile" / "spellings-kept-pass.yaml").read_bytes()
    out = krm_output(raw)
    items = raw.decode().split("functionConfig:")[0]
    kept = [line for line in items.splitlines() if line.startswith("    ") and ":" in line]
    # libyaml cannot write these three as they were: explicit tags, and a null as nothing in a flow
    respelled = {
        "    flow: {a: , b: [~, null]}": "    flow: {a: null, b: [~, null]}",
        "    tagged: !!str y": "    tagged: 'y'",
        '    typed: !!int "3"': "    typed: 3",
        # the emitter allows no `:` in a plain scalar inside brackets: quoted, the same string
        "          - {name: CLOCK, value: 12:30}": "          - {name: CLOCK, value: '12:30'}",
        "          - {name: WHEN, value: 2024-01-01T10:00:00Z}": "          - {name: WHEN, value: '2024-01-01T10:00:00Z'}",
    }
    lines = out.splitlines()
    for line in kept:
        assert respelled.get(line, line) in lines, line
    namespace = [d for d in yamlio.load(out)["items"] if d["kind"] == "Namespace"]
    assert namespace[0]["metadata"]["labels"]["a"] == "y"
    assert {"      a: 'y'", "      b: '1e3'", "      c: '0o17'", "      d: 'N'"} <= set(lines)
