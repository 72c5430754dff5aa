"""virag's chat UI (Gradio). Calls only the library API.

Names are imported lazily so that :mod:`ui.render` can be used (and tested) without Gradio.
"""

from importlib import import_module

_EXPORTS = {
    "build_app": ".app",
    "launch": ".app",
    "ChatService": ".service",
    "UploadLimits": ".service",
}
__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name], __name__), name)
    msg = f"module 'ui' has no attribute {name!r}"
    raise AttributeError(msg)
