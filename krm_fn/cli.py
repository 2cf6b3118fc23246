"""Command line: no arguments is the KRM function; `render` is the same expansion standalone."""

from __future__ import annotations

import gc
import sys
from collections.abc import Sequence
from typing import IO, TYPE_CHECKING

from krm_fn import __version__

if TYPE_CHECKING:  # the KRM mode never parses arguments: argparse is imported only when it does
    import argparse

DESCRIPTION = """\
Expand a tenant spec into per-namespace Ray clusters behind Istio, with Spot placement.

With no arguments, run as a KRM function: read a ResourceList on stdin (kpt, kustomize) and
write one on stdout. Exit codes: 0 success, 1 errors in the input, 2 internal error.
"""


def main(
    argv: Sequence[str] | None = None, stdout: IO[str] | None = None, stderr: IO[str] | None = None
) -> int:
    """Run the command; return its exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    out, err = stdout or sys.stdout, stderr or sys.stderr
    if not args:
        from krm_fn import krm

        return krm.run(sys.stdin.buffer, out, err)
    parser = _parser()
    try:
        ns = parser.parse_args(args)
    except SystemExit as exc:  # argparse exits 0 for --help/--version, 2 for misuse
        return int(exc.code or 0)
    from krm_fn import plugin, render

    if ns.command == "render":
        return render.main(ns.paths, ns.config, out, err, ns.output, ns.out)
    if ns.command == "check":
        from krm_fn import check

        return check.main(ns, out, err)
    if ns.command in plugin.COMMANDS:
        return plugin.main(ns, out, err)
    parser.print_help(err)
    return 2


def _parser() -> argparse.ArgumentParser:
    import argparse

    parser = argparse.ArgumentParser(
        prog="ray-tenants",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"ray-tenants {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    render = sub.add_parser(
        "render",
        help="expand manifests standalone and print the result as a YAML stream",
        description="Expand the bases in PATH... (files or folders) for the tenant spec and print "
        "the resulting objects. Diagnostics go to stderr as `path: Kind/name field: message`.",
    )
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
    render.add_argument("paths", nargs="+", metavar="PATH", help="manifest files or folders, or - for stdin")
    from krm_fn import check as check_cmd

    check = sub.add_parser(
        "check",
        help=check_cmd.HELP,
        description=check_cmd.DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check_cmd.add_arguments(check)
    from krm_fn import plugin

    plugin.add_commands(sub)
    return parser


def entry() -> None:
    """Console script: exit with main()'s code; an internal error exits 2 asking for a report."""
    # One short-lived call whose data are trees (recursive aliases are refused on load): reference
    # counting frees everything, and the cyclic collector would only rescan the growing heap, 40%
    # of a 4,000-tenant call.
    gc.disable()
    try:
        code = main()
    except KeyboardInterrupt:
        code = 130
    except Exception as exc:  # the boundary: anything unexpected is a bug of ours, not the user's
        sys.stderr.write(
            f"ray-tenants: internal error: {type(exc).__name__}: {exc}\n"
            "ray-tenants: this is a bug; please report it with the input that caused it\n"
        )
        code = 2
    raise SystemExit(code)
