"""`ray-tenants check PATH...`: the check for people, pre-commit and CI."""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING

from krm_fn.check import CHECKS

if TYPE_CHECKING:
    from krm_fn.check.loader import Doc
    from krm_fn.results import Result

HELP = "check manifests: schemas, Spot and routing policy, drift of generated files"
DESCRIPTION = """\
Check the manifests in PATH... (files or folders; - reads a stream from stdin) and print one line
per problem: `path:line: Kind/namespace/name field.path: message`. Exit 1 on any error, 0 when
there are only warnings.

Schemas: built-in kinds and every pod template of Ray workloads with kubernetes-validate (strict:
unknown fields are errors); custom resources against their CRD (among the inputs or --crd).
Policy: Spot placement of Ray workers, the head off Spot, tenant routes and their prefixes, names.
Drift: given a tenant spec (--config, or a RayTenants among the inputs), generated resources on
disk must equal what the function generates now. Bases a tenant spec expands are templates: their
expansion is checked for policy, not the bases themselves.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The `check` subcommand's options."""
    parser.add_argument(
        "--config", metavar="FILE", help="the tenant spec (default: a RayTenants among PATH...)"
    )
    parser.add_argument(
        "--crd",
        metavar="FILE",
        action="append",
        default=[],
        help="a file or folder of CustomResourceDefinitions to validate custom resources against (repeatable)",
    )
    parser.add_argument(
        "--kubernetes-version",
        metavar="VERSION",
        help="schemas of this Kubernetes version, e.g. 1.32 (default: the newest kubernetes-validate ships)",
    )
    parser.add_argument(
        "--no-strict", action="store_true", help="accept unknown fields in built-in kinds and pod templates"
    )
    parser.add_argument(
        "--select",
        metavar="CHECKS",
        default=",".join(CHECKS),
        help=f"comma-separated checks to run (default: {','.join(CHECKS)})",
    )
    parser.add_argument(
        "--fix",
        action="store_true",
        help="regenerate drifted generated files (exit 1 when any file changed, as formatters do)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="also print informational findings")
    parser.add_argument("paths", nargs="+", metavar="PATH", help="manifest files or folders, or - for stdin")


def main(ns: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    """Run the check for parsed arguments; return the exit code."""
    from krm_fn.check import report
    from krm_fn.check.checker import Options, check
    from krm_fn.check.loader import load_paths

    select = frozenset(s.strip() for s in str(ns.select).split(",") if s.strip())
    unknown = select - set(CHECKS)
    if unknown or not select:
        stderr.write(f"ray-tenants check: --select takes {', '.join(CHECKS)}; got {ns.select!r}\n")
        return 2
    docs, problems = load_paths(ns.paths)
    crd_docs, crd_problems = load_paths(ns.crd)
    problems.extend(crd_problems)
    config_doc = _config(ns.config, problems)
    root = _root(ns.config, docs, config_doc)
    options = Options(
        kubernetes_version=ns.kubernetes_version,
        strict=not ns.no_strict,
        select=select,
        crds=crd_docs,
        config=config_doc,
        root=root,
        regenerate=_regenerate(ns, root),
        fix=ns.fix,
    )
    outcome = check(docs, options)
    results = [*problems, *outcome.results]
    report.write_lines(results, stdout, ns.verbose)
    if any(r.severity != "info" for r in results):
        stderr.write(f"ray-tenants check: {report.summary(results, len({d.file for d in docs}))}\n")
    return report.exit_code(results)


def _config(file: str | None, problems: list[Result]) -> Doc | None:
    from krm_fn.check.loader import load_file
    from krm_fn.results import Result

    if file is None:
        return None
    docs, bad = load_file(file)
    problems.extend(bad)
    from krm_fn.check.checker import is_tenant_spec

    specs = [d for d in docs if is_tenant_spec(d.data)] or (docs if len(docs) == 1 else [])
    if len(specs) != 1 and not bad:
        problems.append(
            Result(f"expected one tenant spec (RayTenants) in the file, found {len(specs)}", file=file)
        )
        return None
    return specs[0] if specs else None


def _root(config_file: str | None, docs: Sequence[Doc], config_doc: Doc | None) -> Path:
    """The package the generated paths are relative to: the Kptfile's folder above the spec, else cwd."""
    from krm_fn.check.checker import is_tenant_spec

    spec_file = config_file or next((d.file for d in docs if is_tenant_spec(d.data)), None)
    if spec_file and spec_file != "-":
        for folder in Path(spec_file).resolve().parents:
            if (folder / "Kptfile").is_file():
                return folder
    return Path.cwd()


def _regenerate(ns: argparse.Namespace, root: Path) -> str:
    if (root / "Kptfile").is_file():
        return f"kpt fn render {shlex.quote(str(root))}"
    words = ["ray-tenants", "check", "--select", "drift", "--fix"]
    if ns.config:
        words += ["--config", ns.config]
    return shlex.join([*words, *ns.paths])
