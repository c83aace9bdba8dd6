"""Hatch build hook: compile the index's optional native kernel.

Runs for wheel builds, standard and editable (``pip install -e .``, as ``make``
does). Compiles ``src/accord/index/_kernel.c`` with the C compiler Python was
built with (or ``$CC``) against OpenSSL's libcrypto into
``src/accord/index/_kernel<EXT_SUFFIX>``, where an editable install imports it
in place; a standard wheel carries it and is tagged for this interpreter and
platform. If compiling fails (no compiler, no OpenSSL headers), the hook warns
and goes on: the package then runs its pure-Python code, with the same results
(``accord/index/native.py``).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sysconfig
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

SOURCE = Path("src", "accord", "index", "_kernel.c")


class KernelBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    """Compiles the kernel before a wheel is built; tags a standard wheel that carries it."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel":
            return
        source = Path(self.root, SOURCE)
        target = source.with_name("_kernel" + sysconfig.get_config_var("EXT_SUFFIX"))
        error = compile_kernel(source, target)
        if error is not None:
            target.unlink(missing_ok=True)  # never leave a module built from an older source
            self.app.display_warning(
                f"accord: the native index kernel was not built ({error}); "
                "the index runs its pure-Python code (same results, some three times slower)"
            )
            return
        if version == "standard":
            build_data["force_include"][str(target)] = f"accord/index/{target.name}"
            build_data["pure_python"] = False
            build_data["infer_tag"] = True


def compile_kernel(source: Path, target: Path) -> str | None:
    """Compile ``source`` into the extension module ``target``; None, or why it failed."""
    compiler = shlex.split(os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc")
    partial = target.with_name(target.name + ".partial")
    command = [
        *compiler,
        "-O2",
        "-fPIC",
        "-shared",
        "-I" + sysconfig.get_paths()["include"],
        str(source),
        "-o",
        str(partial),
        "-lcrypto",
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)  # noqa: S603
    except (OSError, subprocess.SubprocessError) as exc:
        return f"{shlex.join(command)}: {exc}"
    if done.returncode != 0:
        partial.unlink(missing_ok=True)
        return f"{shlex.join(command)} exited with {done.returncode}: {done.stderr.strip()}"
    os.replace(partial, target)  # atomic: a running process keeps the module it loaded
    return None
