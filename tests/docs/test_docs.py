"""The examples in docs/api.md and the README run and their assertions hold."""

from __future__ import annotations

import contextlib
import io
import os
import re

import pytest

from tests import ROOT


def blocks(name: str) -> list[str]:
    with open(os.path.join(ROOT, name), encoding="utf-8") as f:
        return re.findall(r"```python\n(.*?)```", f.read(), re.S)


@pytest.mark.parametrize("name", ["docs/api.md", "README.md"])
def test_python_blocks_run_in_order(name: str, tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    found = blocks(name)
    assert found, f"no python examples in {name}"
    namespace: dict = {}
    monkeypatch.chdir(str(tmp_path))  # examples may create files such as org.db
    with contextlib.redirect_stdout(io.StringIO()):
        for code in found:
            exec(compile(code, name, "exec"), namespace)  # noqa: S102
