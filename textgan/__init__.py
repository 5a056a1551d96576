"""textgan: text GANs trained by reinforcement learning.

Importing the package registers the Gymnasium environment ``textgan/SeqGAN-v0``; nothing else
happens at import (no device probing, no file access).
"""

__version__ = "0.1.0"
