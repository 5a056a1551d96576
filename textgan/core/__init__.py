"""The adversarial trainer core shared by textgan and imagegan.

It knows nothing of text or images: checkpoints (safetensors, atomic), the run directory,
progress bars, device/precision/compile/DDP helpers, plots and the adversarial round loop.
"""

from textgan.core.checkpoint import (
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
from textgan.core.device import autocast, ddp_info, maybe_compile, resolve_device, seed_everything
from textgan.core.loop import AdversarialSchedule, format_metrics, merge_metrics, run_adversarial
from textgan.core.plots import plot_curves, plot_series
from textgan.core.progress import console, make_progress
from textgan.core.rundir import RunDir

__all__ = [
    "AdversarialSchedule",
    "RunDir",
    "autocast",
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
