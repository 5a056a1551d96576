"""RL agents that train the generator through the SeqGAN environment.

``AGENTS`` maps the names the CLI accepts (``--agent``) to an agent class and its config class.
The Stable-Baselines3 adapter lives in ``textgan.agents.sb3`` and is not imported here, so
``stable-baselines3`` stays optional.
"""

from textgan.agents.base import GeneratorAgent
from textgan.agents.ppo import PPOAgent, PPOConfig
from textgan.agents.reinforce import ReinforceAgent, ReinforceConfig

AGENTS = {"reinforce": (ReinforceAgent, ReinforceConfig), "ppo": (PPOAgent, PPOConfig)}

__all__ = ["AGENTS", "GeneratorAgent", "PPOAgent", "PPOConfig", "ReinforceAgent", "ReinforceConfig"]
