"""Old import path of :mod:`runcore.errors` (re-exported)."""

from runcore.errors import CheckpointError, UserError

__all__ = ["CheckpointError", "UserError"]
