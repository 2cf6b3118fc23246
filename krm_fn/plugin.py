"""kustomize's legacy exec plugin: install the function where kustomize looks, and run as it.

kustomize (also the one inside `kubectl kustomize`) runs
`<plugin home>/<group>/<version>/<lowercase kind>/<Kind> CONFIG` for a transformer or generator
whose config has that apiVersion and kind, with a plain YAML stream on stdin (no ResourceList) and
the kustomization's folder as cwd, and builds with the stream it prints. This is the route that
needs neither a container engine nor standalone kustomize's `--enable-exec`.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import IO

import krm_fn
from krm_fn.config import API_GROUP, API_VERSION, KIND
from krm_fn.expand import Outcome
from krm_fn.output import dump_stream
from krm_fn.results import FnError
from krm_fn.standalone import run

# Characters that mean something inside a double-quoted string to sh or to Python: an interpreter
# path holding one cannot be written into the launcher line below.
_UNQUOTABLE = frozenset('"\\$`\n')


def plugin_path(home: Path) -> Path:
    """Where kustomize looks for this function's executable under a plugin home."""
    return home / API_GROUP / API_VERSION.split("/")[1] / KIND.lower() / KIND


def default_home(env: Mapping[str, str] | None = None) -> Path:
    """The plugin home kustomize would use: the first of its candidates that exists, else the first.

    kustomize tries $KUSTOMIZE_PLUGIN_HOME, $XDG_CONFIG_HOME/kustomize/plugin,
    ~/.config/kustomize/plugin and ~/kustomize/plugin, and takes the first existing folder; creating
    a later candidate while an earlier one exists would install where kustomize never looks.
    """
    env = os.environ if env is None else env
    home = Path(env.get("HOME") or Path.home())
    candidates = [
        *([Path(env["KUSTOMIZE_PLUGIN_HOME"])] if env.get("KUSTOMIZE_PLUGIN_HOME") else []),
        *([Path(env["XDG_CONFIG_HOME"]) / "kustomize" / "plugin"] if env.get("XDG_CONFIG_HOME") else []),
        home / ".config" / "kustomize" / "plugin",
        home / "kustomize" / "plugin",
    ]
    return next((c for c in candidates if c.is_dir()), candidates[0])


def launcher(python: str, package_root: str) -> str:
    """The executable's text: run this package with the interpreter `python`, named absolutely.

    It is both a sh script and a Python script: sh execs the interpreter on the file itself, so
    there is no PATH lookup (a pyenv shim costs ~85 ms a call) and no `#!` length or space limit.
    Run as a file, Python puts the plugin's own folder first on sys.path, not the kustomization
    folder that `-m` or `-c` would add (a `yaml.py` there must not shadow a module).
    """
    if not os.path.isabs(python) or _UNQUOTABLE & set(python):
        raise ValueError(
            f"cannot write a launcher for the interpreter {python!r}: need an absolute path without quotes, backslashes, $ or backquotes"
        )
    return (
        "#!/bin/sh\n"
        f'"exec" "{python}" "$0" "$@"\n'
        f"# kustomize exec plugin for {API_VERSION} {KIND}, written by `ray-tenants install-plugin`.\n"
        "# It names its Python and package absolutely: run install-plugin again after moving either.\n"
        "import sys\n"
        "\n"
        f"PACKAGE_ROOT = {package_root!r}\n"
        "if PACKAGE_ROOT not in sys.path:  # a source checkout rather than an installed package\n"
        "    sys.path.insert(1, PACKAGE_ROOT)\n"
        "from krm_fn.cli import entry  # noqa: E402\n"
        "\n"
        'sys.argv[1:1] = ["legacy-plugin"]\n'
        "entry()\n"
    )


def install(home: Path) -> Path:
    """Write the executable under `home` (atomically, mode 0755); return its path."""
    target = plugin_path(home)
    text = launcher(sys.executable, str(Path(krm_fn.__file__).resolve().parent.parent))
    target.parent.mkdir(parents=True, exist_ok=True)
    # written beside the target and renamed: kustomize never runs a half-written file
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{KIND}.")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o755)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def run_legacy(config_file: str, stdout: IO[str], stderr: IO[str]) -> int:
    """Expand the YAML stream on stdin for the tenant spec in `config_file` and print the stream.

    On any problem: one line per problem on stderr, exit 1 and NOTHING on stdout, since kustomize
    would build with whatever was printed (an empty stream removes every resource).
    """
    try:
        outcome, manifests = run(["-"], config_file)
    except FnError as exc:
        outcome, manifests = Outcome([], exc.results), []
    for result in outcome.results:
        # kustomize's temporary copy of the config and its own stream are no files the user knows:
        # the object (kind/name) and field locate the problem
        stderr.write(f"ray-tenants: {result.replace(file='', line=None).one_line()}\n")
    if outcome.failed:
        return 1
    stdout.write(dump_stream(outcome.items, manifests))
    return 0


def install_command(folder: str | None, stdout: IO[str], stderr: IO[str]) -> int:
    """`install-plugin [--dir DIR]`: install under DIR (default: kustomize's plugin home), print the path."""
    home = Path(folder) if folder else default_home()
    try:
        target = install(home.absolute())
    except (OSError, ValueError) as exc:
        stderr.write(f"ray-tenants: install-plugin: {exc}\n")
        return 1
    stdout.write(f"{target}\n")
    if home.absolute() != default_home().absolute():
        stderr.write(f"ray-tenants: kustomize looks there with KUSTOMIZE_PLUGIN_HOME={home.absolute()}\n")
    return 0
