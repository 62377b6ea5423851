"""Optional libraries, imported only when a conversion needs them."""

from __future__ import annotations

import importlib
from types import ModuleType

from ..errors import MissingExtra


def require(module: str, extra: str, what: str) -> ModuleType:
    """The module ``module``, or ``MissingExtra`` saying which extra installs it. O(1) once imported."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtra(f"{what} needs {module}, which is not installed: pip install 'botree[{extra}]'") from None
