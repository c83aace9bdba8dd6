"""The optional native kernel of the index build, and whether it is in use.

:mod:`accord.index._kernel` is a CPython extension (``src/accord/index/_kernel.c``,
compiled against OpenSSL's libcrypto by ``hatch_build.py`` when the package is
installed) that runs the two hot loops of a batch with exactly the results and
side effects of the pure-Python code: the posting-log appends of
:meth:`~accord.index.builder.IndexState.apply_batch` and the leaf hashing and
path rehashing of :meth:`~accord.index.smt.SparseMap.update_checked`. It calls
OpenSSL's SHA-256 directly, about a quarter of the cost of a ``hashlib`` call
from Python, and does the loops' bookkeeping without the interpreter.

Where it was not built (no C compiler or OpenSSL headers at install), the
pure-Python code runs instead, with the same results. ``ACCORD_PURE_PYTHON=1``
in the environment (read at import) forces the pure-Python code. :data:`NATIVE`
says which is in use; ``IndexState(native=False)`` and ``SparseMap(native=False)``
choose the pure-Python code for one instance (for tests and comparisons).
"""

from __future__ import annotations

import os

__all__ = ["NATIVE", "append_postings", "update"]


def _forced_pure() -> bool:
    return os.environ.get("ACCORD_PURE_PYTHON", "") not in ("", "0")


#: True if the native kernel is loaded and in use.
NATIVE = False
if not _forced_pure():
    try:
        from accord.index._kernel import append_postings, update
    except ImportError:  # not built here: the pure-Python code does the work
        pass
    else:
        NATIVE = True
