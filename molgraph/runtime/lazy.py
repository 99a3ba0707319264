"""Public names of a package loaded on first use, so importing the package stays light."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_exports(package: str, names: dict[str, str]) -> tuple[Callable[[str], Any], list[str]]:
    """A module ``__getattr__`` that imports ``names[name]`` (a module path) when ``name`` is
    first asked for, and the matching ``__all__``.

    Example (in a package's ``__init__.py``)::

        __getattr__, __all__ = lazy_exports(__name__, PUBLIC)
    """

    def __getattr__(name: str) -> Any:
        if name in names:
            return getattr(importlib.import_module(names[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__, list(names)
