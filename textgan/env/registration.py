"""Registration of ``textgan/SeqGAN-v0`` with Gymnasium (done by ``import textgan``).

Entry points are strings, so registering imports neither torch nor the env modules; they load on
the first ``make``. Both ids are registered: ``textgan/SeqGAN-v0`` is the name to use, and
``SeqGAN-v0`` is what Gymnasium looks up for ``"textgan:SeqGAN-v0"`` (the ``module:`` prefix
imports ``textgan`` and then drops the module from the id).

Examples:
    >>> import gymnasium as gym
    >>> env = gym.make("textgan/SeqGAN-v0", vocab_size=8, max_len=4, reward_mode="direct")
    >>> envs = gym.make_vec("textgan/SeqGAN-v0", num_envs=3, vectorization_mode="vector_entry_point",
    ...                     vocab_size=8, max_len=4, autoreset_mode="SameStep")
    >>> envs.metadata["autoreset_mode"].name, envs.num_envs
    ('SAME_STEP', 3)
"""

from __future__ import annotations

import gymnasium as gym

ENV_ID = "textgan/SeqGAN-v0"
MODULE_PREFIX_ID = "SeqGAN-v0"
ENTRY_POINT = "textgan.env.seqgan_env:SeqGANEnv"
VECTOR_ENTRY_POINT = "textgan.env.vector_env:SeqGANVectorEnv"


def register_envs() -> None:
    """Register the SeqGAN environment ids; calling it again does nothing."""
    for env_id in (ENV_ID, MODULE_PREFIX_ID):
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=ENTRY_POINT, vector_entry_point=VECTOR_ENTRY_POINT)
