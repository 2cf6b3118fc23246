"""Command line: no arguments is the KRM function; every subcommand's arguments are parsed here.

`main` holds the error boundary, so whoever calls it (the console script, a test) gets the same
exit codes: 0 success, 1 findings or errors in the input, 2 a usage error, 3 an internal error
(a bug: the message asks for a report). A closed stdout (`ray-tenants check . | head`) is no bug:
the command stops quietly with 141, as a tool killed by SIGPIPE would.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Sequence
from typing import IO, TYPE_CHECKING

from krm_fn import __version__

if TYPE_CHECKING:  # the KRM mode never parses arguments: argparse is imported only when it does
    import argparse

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
# 128 + SIGPIPE: what the shell reports for a writer whose reader went away
EXIT_BROKEN_PIPE = 141
CHECK_NAMES = ("schema", "policy", "drift")

DESCRIPTION = """\
Expand a tenant spec into per-namespace Ray clusters behind Istio, with Spot placement.

With no arguments, run as a KRM function: read a ResourceList on stdin (kpt, kustomize) and
write one on stdout.

Exit codes: 0 success; 1 findings or errors in the input (each explained on stderr); 2 a usage
error (unknown command or option); 3 an internal error, a bug to report with the input that
caused it. A closed stdout (`ray-tenants check . | head`) ends the command quietly with 141.
"""

CHECK_HELP = "check manifests: schemas, Spot and routing policy, drift of generated files"
CHECK_DESCRIPTION = """\
Check the manifests in PATH... (files or folders; - reads a stream from stdin) and print one line
per problem, each once, sorted by file and line: `path:line: Kind/namespace/name field.path:
message`, the line the field's own. Exit 1 on any error, 0 when there are only warnings.
In folders, hidden files and folders, Helm charts (folders with a Chart.yaml) and what --exclude
matches are skipped; YAML that is no Kubernetes object is skipped too (-v says which).

Schemas: built-in kinds and every pod template of Ray workloads with kubernetes-validate (strict:
unknown fields are errors); custom resources against their CRD (among the inputs or --crd),
its CEL rules (x-kubernetes-validations) included.
Policy: Spot placement of Ray workers, the head off Spot, tenant routes and their prefixes, names.
Drift: given a tenant spec (--config, or a RayTenants among the inputs), generated resources on
disk must equal what the function generates now. Bases a tenant spec expands are templates: their
expansion is checked for policy, not the bases themselves.
"""


def main(
    argv: Sequence[str] | None = None, stdout: IO[str] | None = None, stderr: IO[str] | None = None
) -> int:
    """Run the command; return its exit code (the error boundary: nothing escapes but the code)."""
    out, err = stdout or sys.stdout, stderr or sys.stderr
    try:
        return _run(list(sys.argv[1:] if argv is None else argv), out, err)
    except BrokenPipeError:
        if out is sys.__stdout__:
            # the interpreter flushes stdout at exit and would report the broken pipe again
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.__stdout__.fileno())
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # anything unexpected is a bug of ours, not the user's
        err.write(
            f"ray-tenants: internal error: {type(exc).__name__}: {exc}\n"
            "ray-tenants: this is a bug; please report it with the input that caused it\n"
        )
        return EXIT_INTERNAL


def _run(args: list[str], out: IO[str], err: IO[str]) -> int:
    if not args:
        from krm_fn import krm

        return krm.run(sys.stdin.buffer, out, err)
    if args == ["check"] and not sys.stdin.isatty():
        # a kpt validator (`exec: ray-tenants check`): a ResourceList on stdin, the check's results out
        from krm_fn import krm

        return krm.run(sys.stdin.buffer, out, err, check=True)
    parser = _parser()
    try:
        ns = parser.parse_args(args)
    except SystemExit as exc:  # argparse exits 0 for --help/--version, 2 for misuse
        return int(exc.code or 0)
    if ns.command == "render":
        from krm_fn import render

        return render.main(ns.paths, ns.config, out, err, ns.output, ns.out, ns.exclude, ns.verbose)
    if ns.command == "check":
        from krm_fn.check import command

        return command.main(
            ns.paths,
            out,
            err,
            config=ns.config,
            crds=ns.crd,
            kubernetes_version=ns.kubernetes_version,
            strict=not ns.no_strict,
            select=ns.select,
            fix=ns.fix,
            verbose=ns.verbose,
            exclude=ns.exclude,
        )
    if ns.command == "install-plugin":
        from krm_fn import plugin

        return plugin.install_command(ns.dir, out, err)
    if ns.command == "legacy-plugin":
        from krm_fn import plugin

        return plugin.run_legacy(ns.config, out, err)
    parser.print_help(err)
    return EXIT_USAGE


def _parser() -> argparse.ArgumentParser:
    import argparse

    parser = argparse.ArgumentParser(
        prog="ray-tenants",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"ray-tenants {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _render_arguments(
        sub.add_parser(
            "render",
            help="expand manifests standalone and print the result as a YAML stream",
            description="Expand the bases in PATH... (files or folders) for the tenant spec and print "
            "the resulting objects. Diagnostics go to stderr as `path:line: Kind/name field: message`, "
            "the line the field's own.",
        )
    )
    _check_arguments(
        sub.add_parser(
            "check",
            help=CHECK_HELP,
            description=CHECK_DESCRIPTION,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
    )
    _plugin_commands(sub)
    return parser


def _render_arguments(render: argparse.ArgumentParser) -> None:
    render.add_argument(
        "--config",
        metavar="FILE",
        help="the tenant spec (default: a RayTenants object among PATH...)",
    )
    render.add_argument(
        "--output",
        choices=("resources", "overlays"),
        help="override the spec's output: print the tenants' objects (resources), or write one "
        "kustomize overlay folder per tenant (overlays)",
    )
    render.add_argument(
        "--out",
        metavar="DIR",
        help="with output overlays: the folder to write <DIR>/<tenant>/ into (generated files of "
        "tenants no longer in the spec are removed)",
    )
    _walk_arguments(render)
    render.add_argument("paths", nargs="+", metavar="PATH", help="manifest files or folders, or - for stdin")


def _walk_arguments(parser: argparse.ArgumentParser) -> None:
    """What render and check share about reading folders: --exclude, and -v for what was skipped."""
    parser.add_argument(
        "--exclude",
        metavar="GLOB",
        action="append",
        default=[],
        help="in folders, skip files and folders matching GLOB by name or path (repeatable); "
        "hidden ones and Helm charts (folders with a Chart.yaml) are always skipped",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="also print informational findings (files skipped as not Kubernetes objects, charts)",
    )


def _check_arguments(parser: argparse.ArgumentParser) -> None:
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
        metavar="CHECK_NAMES",
        default=",".join(CHECK_NAMES),
        help=f"comma-separated checks to run (default: {','.join(CHECK_NAMES)})",
    )
    parser.add_argument(
        "--fix",
        action="store_true",
        help="regenerate drifted generated objects where they are, one line per file written (exit 1 "
        "when any file changed, as formatters do); not with - (stdin)",
    )
    _walk_arguments(parser)
    parser.add_argument("paths", nargs="+", metavar="PATH", help="manifest files or folders, or - for stdin")


def _plugin_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from pathlib import Path

    from krm_fn.config import API_VERSION, KIND
    from krm_fn.plugin import plugin_path

    install_cmd = sub.add_parser(
        "install-plugin",
        help="install the function as a kustomize exec plugin (kubectl kustomize --enable-alpha-plugins)",
        description=f"Write the executable kustomize runs for {API_VERSION} {KIND} transformers, "
        "as <DIR>/" + str(plugin_path(Path(""))) + ", and print its path. It runs this package "
        "with this Python. DIR defaults to the plugin home kustomize uses: $KUSTOMIZE_PLUGIN_HOME, "
        "$XDG_CONFIG_HOME/kustomize/plugin or ~/.config/kustomize/plugin.",
    )
    install_cmd.add_argument("--dir", metavar="DIR", help="the plugin home to install into")
    legacy = sub.add_parser(
        "legacy-plugin",
        help="run as kustomize's exec plugin: the tenant spec in CONFIG, a YAML stream on stdin",
        description="What the installed plugin runs: expand the YAML stream on stdin for the tenant "
        "spec in CONFIG and print the resulting stream. On errors, print them to stderr, "
        "nothing to stdout, and exit 1.",
    )
    legacy.add_argument("config", metavar="CONFIG", help="the tenant spec file kustomize passes")


def entry() -> None:
    """Console script: exit with main()'s code."""
    # One short-lived call whose data are trees (recursive aliases are refused on load): reference
    # counting frees everything, and the cyclic collector would only rescan the growing heap, 40%
    # of a 4,000-tenant call.
    gc.disable()
    raise SystemExit(main())
