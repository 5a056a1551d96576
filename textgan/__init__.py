"""textgan: text GANs trained by reinforcement learning.

Importing the package registers the Gymnasium environment ``textgan/SeqGAN-v0``; nothing else
happens at import (no device probing, no file access).
"""

from textgan.env.registration import register_envs

__version__ = "0.1.0"

register_envs()
