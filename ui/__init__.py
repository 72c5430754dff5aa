"""virag's chat UI (Gradio). Calls only the library API.

Names are imported lazily so that :mod:`ui.render` can be used (and tested) without Gradio.
"""

from rag.lazy import lazy_exports

_EXPORTS = {
    "build_app": ".app",
    "launch": ".app",
    "ChatService": ".service",
    "UploadLimits": ".service",
}
__all__ = list(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
