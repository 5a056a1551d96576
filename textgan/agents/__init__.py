"""RL agents that train the generator through the SeqGAN environment.

``AGENTS`` maps the names the CLI accepts (``--agent``) to an agent class and its settings
dataclass; each setting is a flag ``--<agent>.<setting>``. Rollout collection is shared
(``collect_rollout``). The Stable-Baselines3 adapter lives in ``textgan.agents.sb3`` and is not
imported here, so ``stable-baselines3`` stays optional.
"""

from textgan.agents.base import Agent, GeneratorAgent
from textgan.agents.ppo import PPOAgent, PPOConfig
from textgan.agents.reinforce import ReinforceAgent, ReinforceConfig
from textgan.agents.rollout import Rollout, collect_rollout, replay, rewards_to_go
from textgan.agents.stabilisers import KLPenalty, subtract_baseline

AGENTS = {"reinforce": (ReinforceAgent, ReinforceConfig), "ppo": (PPOAgent, PPOConfig)}

__all__ = [
    "AGENTS", "Agent", "GeneratorAgent", "KLPenalty", "PPOAgent", "PPOConfig", "ReinforceAgent", "ReinforceConfig",
    "Rollout", "collect_rollout", "replay", "rewards_to_go", "subtract_baseline",
]  # fmt: skip
