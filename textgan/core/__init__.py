"""Old import path of :mod:`runcore`, the run infrastructure shared with imagegan (re-exported)."""

from runcore import *  # noqa: F401,F403
from runcore import __all__  # noqa: F401
