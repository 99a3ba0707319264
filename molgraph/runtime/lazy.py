"""Public names of a package loaded on first use, so importing the package stays light."""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Callable
from typing import Any


def lazy_exports(package: str, names: dict[str, str]
                 ) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """A module ``__getattr__`` that imports ``names[name]`` (a module path) when ``name`` is
    first asked for, a ``__dir__`` that lists those names (so ``dir(package)`` and tab
    completion show them before they are loaded; with the dunders and loaded subpackages,
    not the helpers the package imported), and the matching ``__all__``.

    Example (in a package's ``__init__.py``)::

        __getattr__, __dir__, __all__ = lazy_exports(__name__, PUBLIC)
    """

    def __getattr__(name: str) -> Any:
        if name in names:
            return getattr(importlib.import_module(names[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:  # not the helpers the package module itself imported
        module = sys.modules[package]
        own = {k for k, v in vars(module).items() if k.startswith("__")
               or (isinstance(v, types.ModuleType) and v.__name__.startswith(package + "."))}
        return sorted(own | set(names))

    return __getattr__, __dir__, list(names)
