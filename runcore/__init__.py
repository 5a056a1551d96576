"""The run infrastructure shared by textgan and imagegan, a package of its own.

It knows nothing of text or images: checkpoints (safetensors, atomic, checksummed), the run
directory and its lock, exact resume (:class:`Checkpointer`), Ctrl-C as a request to stop
(:func:`graceful_stop`), checks for non-finite numbers, progress bars and log lines,
device/precision/compile/DDP helpers, plots and the adversarial round loop.
"""

from runcore.checkpoint import (
    decode_rng_state,
    encode_rng_state,
    load_modules,
    load_tensors,
    save_modules,
    save_tensors,
    write_bytes_atomic,
    write_json_atomic,
    write_text_atomic,
)
from runcore.interrupt import EXIT_INTERRUPTED, Interrupted, graceful_stop, stop_requested
from runcore.lock import RunLock
from runcore.numbers import NonFiniteError, require_finite_metrics, require_finite_weights
from runcore.resume import LATEST, Checkpointer, check_resume_flags
from runcore.device import autocast, ddp_info, maybe_compile, resolve_device, seed_everything
from runcore.graphs import GraphedStep
from runcore.optim import adam
from runcore.denormals import flush_denormals
from runcore.heap import retain_freed_memory
from runcore.process import set_up_process
from runcore.loop import AdversarialSchedule, format_metrics, merge_metrics, run_adversarial
from runcore.plots import plot_curves, plot_panels, plot_series
from runcore.progress import console, make_progress
from runcore.rundir import RunDir

__all__ = [
    "EXIT_INTERRUPTED",
    "LATEST",
    "AdversarialSchedule",
    "Checkpointer",
    "Interrupted",
    "NonFiniteError",
    "RunLock",
    "graceful_stop",
    "require_finite_metrics",
    "require_finite_weights",
    "flush_denormals",
    "retain_freed_memory",
    "set_up_process",
    "stop_requested",
    "RunDir",
    "GraphedStep",
    "adam",
    "autocast",
    "check_resume_flags",
    "console",
    "ddp_info",
    "decode_rng_state",
    "encode_rng_state",
    "format_metrics",
    "load_modules",
    "load_tensors",
    "make_progress",
    "maybe_compile",
    "merge_metrics",
    "plot_curves",
    "plot_panels",
    "plot_series",
    "resolve_device",
    "run_adversarial",
    "save_modules",
    "save_tensors",
    "seed_everything",
    "write_bytes_atomic",
    "write_json_atomic",
    "write_text_atomic",
]
