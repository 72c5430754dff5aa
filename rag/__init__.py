"""virag: cited question answering over Vietnamese documents."""

from importlib.metadata import PackageNotFoundError, version

from .answer import Answer, Citation
from .assistant import Assistant
from .chunking import Chunk
from .config import Settings
from .errors import ViragError

try:
    __version__ = version("virag")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0"

__all__ = ["Answer", "Assistant", "Chunk", "Citation", "Settings", "ViragError", "__version__"]
