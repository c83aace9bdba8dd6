"""Stable test ids for accord.keys tests.

Many cases carry random bytes or texts (keys, ciphertexts, share files). pytest would
print them into the test ids, which then differ between pytest-xdist workers; name such
values by their argument instead (the ``case`` argument names each case).
"""

from __future__ import annotations

import pytest


def pytest_make_parametrize_id(config: pytest.Config, val: object, argname: str) -> str | None:
    if isinstance(val, bytes | bytearray):
        return argname
    if isinstance(val, str) and argname != "case":
        return argname
    return None
