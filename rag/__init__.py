"""virag: cited question answering over Vietnamese documents.

Names are imported lazily: ``from rag import Settings`` (or ``rag.errors``) does not pull in the
whole pipeline, and torch, on import.
"""

import os

# OpenMP threads that spin without limit collapse when the CPUs are shared (a query took over
# 1 s instead of 15 ms on 2 busy cores); never spinning (OMP_WAIT_POLICY=PASSIVE) doubles an idle
# query's latency (28 ms). A bounded spin keeps ~15 ms in both cases. Set before torch loads.
if "OMP_WAIT_POLICY" not in os.environ:
    os.environ.setdefault("GOMP_SPINCOUNT", "100000")

from .lazy import lazy_exports
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("virag")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0"

_EXPORTS = {
    "Answer": ".types",
    "Citation": ".types",
    "Assistant": ".assistant",
    "Chunk": ".types",
    "Document": ".types",
    "Query": ".types",
    "Settings": ".config",
    "ViragError": ".errors",
    "load_settings": ".settings_sources",
}
__all__ = [*_EXPORTS, "__version__"]

__getattr__ = lazy_exports(__name__, _EXPORTS)
