"""LeakGAN: the leaked features against a naive CNN, the manager's goals and the worker's policy and
rewards against naive loops, the rescaled activation against its formula, the Monte Carlo values,
learning, and the trainer's exact resume."""

from __future__ import annotations

import doctest
import random

from gymnasium.utils.env_checker import check_env
import pytest
import torch
from torch.nn import functional as F
from torch.testing import assert_close

import textgan.agents.leakgan
import textgan.gans
import textgan.gans.leakgan
import textgan.models.leakgan
import textgan.rewards.base
from textgan.agents.leakgan import LeakGANAgent, LeakGANAgentConfig, rescaled_activation
from textgan.env.copy_task import TargetDiscriminator
from textgan.env.seqgan_env import SeqGANEnv
from textgan.env.vector_env import SeqGANVectorEnv
from textgan.models import Discriminator, DiscriminatorConfig
from textgan.models.leakgan import LeakGANConfig, LeakGANPolicy, intrinsic_rewards, manager_loss
from textgan.rewards import ConstantReward
from textgan.rewards.base import ProbRealReward
from textgan.seqgan.config import SeqGANConfig, preset_values
from textgan.seqgan.prepare import prepare_data
from textgan.seqgan.runs import create_run

V, T = 9, 5

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny_discriminator(seed: int = 0, vocab: int = V, max_len: int = T, filters=((1, 2, 3), (3, 4, 5))) -> Discriminator:
    """A D of embedding 4 with ``filters`` (widths, maps)."""
    torch.manual_seed(seed)
    d = Discriminator(DiscriminatorConfig(vocab, max_len, embed_dim=4, filter_sizes=filters[0], num_filters=filters[1]))
    with torch.no_grad():  # larger weights than the init, so that features differ clearly between prefixes
        for parameter in d.parameters():
            parameter.mul_(3.0)
    return d


def tiny_policy(d: Discriminator, step_size: int = 2, eos_id: int | None = None, seed: int = 1, fast: bool = False) -> LeakGANPolicy:
    """``fast``: the leak is the reward model, so D's own ``prefix_features`` and ``read_token`` (as
    ``--gan leakgan`` builds it); else its bare ``features``, each prefix read whole."""
    torch.manual_seed(seed)
    config = LeakGANConfig(V, T, d.feature_dim, embed_dim=4, hidden_dim=5, goal_dim=3, step_size=step_size, eos_id=eos_id)
    reward = ProbRealReward(d)
    policy = LeakGANPolicy(config, reward if fast else reward.features)
    with torch.no_grad():
        for parameter in policy.parameters():
            parameter.mul_(5.0)
    return policy


def test_doctests():
    for module in (textgan.models.leakgan, textgan.gans.leakgan):
        result = doctest.testmod(module)
        assert result.failed == 0 and result.attempted > 0, module.__name__


# ---------------------------------------------------------------------------------------------
# The leak: D's features of a prefix


def naive_features(d: Discriminator, prefix: list[int], width: int) -> torch.Tensor:
    """The highway features of ``prefix``, zero vectors after it, one window at a time."""
    x = torch.zeros(width, d.config.embed_dim)
    if prefix:
        x[: len(prefix)] = d.embedding.weight[torch.tensor(prefix)]
    pooled = []
    for conv in d.convs:
        w = conv.kernel_size[0]
        windows = torch.stack([torch.einsum("jek,ke->j", conv.weight, x[p : p + w]) + conv.bias for p in range(width - w + 1)])
        pooled.append(torch.relu(windows.max(0).values))
    p = torch.cat(pooled)
    gate = torch.sigmoid(d.highway_gate(p))
    return gate * torch.relu(d.highway_transform(p)) + (1 - gate) * p


def test_features_are_ds_highway_layer_of_the_prefix_whatever_the_padding_holds():
    d = tiny_discriminator()
    tokens = torch.tensor([[3, 4, 5, 6, 7], [8, 1, 2, 3, 4], [5, 5, 5, 5, 5]])
    lengths = torch.tensor([0, 2, 5])
    got = d.features(tokens, lengths)
    for row in range(3):
        assert_close(got[row], naive_features(d, tokens[row, : lengths[row]].tolist(), T), rtol=1e-5, atol=1e-5)
    other_padding = torch.where(torch.arange(T) < lengths.unsqueeze(1), tokens, 7)
    assert_close(d.features(other_padding, lengths), got, rtol=0, atol=0)
    d.eval()  # the logit is the output layer of the features (dropout off)
    assert_close(d(tokens), d.output(d.features(tokens)).squeeze(-1), rtol=0, atol=0)


@pytest.mark.parametrize("sizes,width,steps", [
    (((1, 2, 3), (3, 4, 5)), 5, 5),  # the tiny D
    (((2, 5), (4, 3)), 5, 3),  # a filter as wide as the rows; fewer prefixes than columns
    (((1, 3, 4, 6), (2, 3, 2, 4)), 6, 6),
])  # fmt: skip
def test_every_prefixs_features_in_one_call_equal_the_naive_windows(sizes, width, steps):
    for seed in range(3):
        d = tiny_discriminator(seed, max_len=width, filters=sizes)
        tokens = torch.randint(0, V, (4, width))
        got = d.prefix_features(tokens, steps)
        assert got.shape == (4, steps + 1, d.feature_dim)
        for row in range(4):
            for t in range(steps + 1):
                assert_close(got[row, t], naive_features(d, tokens[row, :t].tolist(), width), rtol=1e-5, atol=1e-5)
        rows, lengths = textgan.rewards.base.prefix_rows(tokens[:, :steps])
        wide = torch.cat([rows, tokens[:1, steps:].expand(len(rows), -1)], dim=1)  # what follows a prefix is never read
        assert_close(d.features(wide, lengths).view(4, steps + 1, -1), got, rtol=1e-5, atol=1e-5)

    # the reward model's view (eval mode, rows padded to its max_len): D's fast path, or features per prefix
    d = tiny_discriminator()
    d.train()
    reward = ProbRealReward(d)
    short = torch.randint(0, V, (3, 4))
    fast = reward.prefix_features(short)
    assert d.training and fast.shape == (3, 5, d.feature_dim)

    class FeaturesOnly:  # a discriminator-like model without prefix_features
        training, max_len = True, T
        config = d.config

        def prob_real(self, tokens):
            return d.prob_real(tokens)

        def features(self, tokens, lengths=None):
            return d.features(tokens, lengths)

        def eval(self):
            d.eval()

        def train(self, mode=True):
            d.train(mode)

    assert_close(ProbRealReward(FeaturesOnly()).prefix_features(short), fast, rtol=1e-5, atol=1e-5)
    for leak in (reward, ProbRealReward(FeaturesOnly())):  # a growing prefix: D's read_token, or the tokens kept
        state, every = leak.feature_state(3), torch.ones(3, dtype=torch.bool)
        for t in range(4):
            read, state = leak.read_feature(state, short[:, t], torch.full((3,), t + 1), every)
            assert_close(read, fast[:, t + 1], rtol=1e-5, atol=1e-5)
    for t in range(5):
        assert_close(fast[:, t], reward.features(short[:, :t], torch.full((3,), t)), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="steps must be"):
        d.prefix_features(short, 5)


@pytest.mark.parametrize("sizes,width", [(((1, 2, 3), (3, 4, 5)), 5), (((2, 5), (4, 3)), 5), (((1, 3, 4, 6), (2, 3, 2, 4)), 6)])
def test_reading_one_token_at_a_time_gives_each_prefixs_features(sizes, width):
    """D's read_token (running sums and maxes) against the naive windows and against keeping the
    prefix's tokens (PerPrefix), with rows that advance on different calls and past max_len."""
    for seed in range(3):
        d = tiny_discriminator(seed, max_len=width, filters=sizes)
        tokens = torch.randint(0, V, (4, width))
        rng = torch.Generator().manual_seed(seed)
        slow = textgan.rewards.base.PerPrefix(d.features, width)
        state, slow_state = d.feature_state(4), slow.feature_state(4)
        length = torch.zeros(4, dtype=torch.long)
        for _ in range(2 * width + 2):
            advance = (torch.rand(4, generator=rng) < 0.6) & (length < width)
            length = length + advance.long()
            token = tokens[torch.arange(4), (length - 1).clamp_min(0)]
            with torch.no_grad():
                got, state = d.read_token(state, token, length, advance)
                expected, slow_state = slow.read_feature(slow_state, token, length, advance)
            assert_close(got, expected, rtol=1e-5, atol=1e-5)
            for row in range(4):
                assert_close(got[row], naive_features(d, tokens[row, : length[row]].tolist(), width), rtol=1e-5, atol=1e-5)
        assert length.tolist() == [width] * 4


def test_prefix_features_in_bf16_stay_near_fp32():
    torch.manual_seed(0)
    d = Discriminator(DiscriminatorConfig(V, 8, embed_dim=16, filter_sizes=(1, 3, 8), num_filters=(8, 8, 8)))
    tokens = torch.randint(0, V, (6, 8))
    fp32 = d.prefix_features(tokens)
    d.config.precision = "bf16"
    bf16 = d.prefix_features(tokens)
    assert bf16.dtype == torch.float32
    assert_close(bf16, fp32, rtol=0.05, atol=0.05)
    assert_close(bf16, d.features(*textgan.rewards.base.prefix_rows(tokens)).view_as(bf16), rtol=0.05, atol=0.05)
    state, every = d.feature_state(6), torch.ones(6, dtype=torch.bool)
    for t in range(8):
        read, state = d.read_token(state, tokens[:, t], torch.full((6,), t + 1), every)
        assert read.dtype == torch.float32 and state.dtype == torch.float32
        assert_close(read, fp32[:, t + 1], rtol=0.05, atol=0.05)


def test_the_leaked_features_in_the_observation_are_the_reward_models_features_of_the_prefix():
    d = tiny_discriminator()
    reward = ProbRealReward(d)
    env = SeqGANEnv(vocab_size=V, max_len=T, reward_model=reward, eos_id=None, leaked_features=True)
    assert env.observation_space["features"].shape == (d.feature_dim,)
    actions = [4, 7, 3, 8]
    obs, _ = env.reset(seed=0)
    seen = [obs["features"]]
    for action in actions:
        obs, *_ = env.step(action)
        seen.append(obs["features"])
    for length, features in enumerate(seen):
        assert features.dtype == "float32" and env.observation_space.contains(obs)
        assert_close(torch.from_numpy(features), naive_features(d, actions[:length], T), rtol=1e-5, atol=1e-5)
    check_env(SeqGANEnv(vocab_size=V, max_len=T, reward_model=reward, leaked_features=True), skip_render_check=True)

    rows = torch.tensor([[4, 7, 3, 8], [2, 2, 6, 1], [8, 3, 3, 5]])
    envs = SeqGANVectorEnv(3, vocab_size=V, max_len=T, reward_model=reward, eos_id=None, leaked_features=True, tensors=True)
    obs, _ = envs.reset(seed=0)
    for t in range(rows.shape[1] + 1):
        for row in range(3):
            assert_close(obs["features"][row], naive_features(d, rows[row, :t].tolist(), T), rtol=1e-5, atol=1e-5)
        if t < rows.shape[1]:
            obs, *_ = envs.step(rows[:, t])


def test_leaked_features_need_a_reward_model_with_features_and_a_dict_observation():
    target = TargetDiscriminator([1, 2, 3, 4, 5], V)
    with pytest.raises(ValueError, match="features"):
        SeqGANEnv(vocab_size=V, max_len=T, reward_model=target, leaked_features=True)
    with pytest.raises(ValueError, match="dict"):
        SeqGANVectorEnv(2, vocab_size=V, max_len=T, reward_model=ProbRealReward(tiny_discriminator()), observation="tokens", leaked_features=True)


# ---------------------------------------------------------------------------------------------
# The manager's goals, the worker's policy, its intrinsic reward, against naive loops


def lstm_cell(x, h, c, lstm: torch.nn.LSTM):
    gates = lstm.weight_ih_l0 @ x + lstm.bias_ih_l0 + lstm.weight_hh_l0 @ h + lstm.bias_hh_l0
    i, f, g, o = gates.chunk(4)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


def naive_hierarchy(policy: LeakGANPolicy, d: Discriminator, row: list[int]):
    """Logits (T, V), goals and features (T + 1, F) of one row, step by step as the paper writes them."""
    cfg = policy.config
    k, c = cfg.goal_dim, cfg.step_size
    hw = cw = hm = cm = torch.zeros(cfg.hidden_dim)
    start = F.normalize(policy.initial_goal, dim=0)
    inputs = [cfg.bos_id, *row]
    logits, goals, features = [], [], []
    for t in range(len(row) + 1):
        hw, cw = lstm_cell(policy.embedding.weight[inputs[t]], hw, cw, policy.lstm)
        f = naive_features(d, row[:t], T)
        hm, cm = lstm_cell(f, hm, cm, policy.manager_lstm)
        window = sum(goals[t - i] if t - i >= 0 else start for i in range(1, c + 1))  # g_{t-1} .. g_{t-c}
        w = F.normalize(policy.goal_projection.weight @ window, dim=0)
        o = (policy.output.weight @ hw + policy.output.bias).view(cfg.vocab_size, k)  # O_t, V x k
        logits.append(o @ w)
        goals.append(F.normalize(policy.manager_output.weight @ hm + policy.manager_output.bias, dim=0))
        features.append(f)
    return torch.stack(logits[:-1]), torch.stack(goals), torch.stack(features)


@pytest.mark.parametrize("fast", [False, True])
def test_goals_and_the_workers_policy_equal_a_naive_computation_on_every_path(fast):
    d = tiny_discriminator()
    policy = tiny_policy(d, fast=fast)
    tokens = torch.tensor([[4, 7, 3, 8, 2], [1, 1, 6, 5, 0], [3, 8, 8, 2, 4]])
    out = policy.hierarchy(tokens)
    for row in range(len(tokens)):
        logits, goals, features = naive_hierarchy(policy, d, tokens[row].tolist())
        assert_close(out.logits[row], logits, rtol=1e-4, atol=1e-4)
        assert_close(out.goals[row], goals, rtol=1e-4, atol=1e-4)
        assert_close(out.features[row], features, rtol=1e-4, atol=1e-4)
    # one step at a time (acting and sampling) and from cached prefix states (the env's rollouts)
    state, previous, steps = policy.initial_state(3), torch.full((3,), policy.config.bos_id), []
    for t in range(T):
        logits, state = policy.step(previous, state)
        steps.append(logits)
        previous = tokens[:, t]
    assert_close(torch.stack(steps, 1), out.logits, rtol=1e-4, atol=1e-4)
    lengths = torch.tensor([0, 2, 4])
    logits, _ = policy.prefix_states(tokens, lengths)
    assert_close(logits, out.logits[torch.arange(3), lengths], rtol=1e-4, atol=1e-4)


def test_the_worker_reads_the_goals_detached_and_token_nll_pretrains_the_manager():
    d = tiny_discriminator()
    policy = tiny_policy(d)
    tokens = torch.tensor([[4, 7, 3, 8, 2], [1, 1, 6, 5, 0]])
    policy.hierarchy(tokens).logits.sum().backward()
    assert all(p.grad is None or not p.grad.any() for p in policy.manager_parameters())
    policy.zero_grad()
    nll, mask = policy.token_nll(tokens)
    with torch.no_grad():
        plain = F.cross_entropy(policy(tokens).transpose(1, 2), tokens, reduction="none")
    assert_close(nll, plain)  # the value: the worker's NLL alone (D's features differ only in rounding with and without autograd)
    nll.sum().backward()
    manager_grads = [p.grad.clone() for p in policy.manager_parameters()]
    policy.zero_grad()
    out = policy.hierarchy(tokens)
    (manager_loss(out.goals, out.features, mask.sum(1), policy.config.step_size) * mask.sum()).backward()
    for got, expected in zip(manager_grads, (p.grad for p in policy.manager_parameters())):
        assert_close(got, expected, rtol=1e-5, atol=1e-7)  # the gradient: the paper's pre-training loss


def test_intrinsic_rewards_and_the_manager_loss_equal_naive_loops():
    torch.manual_seed(0)
    n, steps, dim, c = 3, 6, 4, 3
    goals, features = torch.randn(n, steps + 1, dim), torch.randn(n, steps + 1, dim)
    lengths, weights = torch.tensor([6, 4, 2]), torch.rand(n, steps + 1 - c)
    expected = torch.zeros(n, steps)
    for b in range(n):
        for t in range(1, steps + 1):
            expected[b, t - 1] = sum(
                F.cosine_similarity(features[b, t] - features[b, t - i], goals[b, t - i], dim=0)
                for i in range(1, c + 1) if t - i >= 0
            ) / c
    assert_close(intrinsic_rewards(goals, features, c), expected)
    terms = [
        weights[b, t] * F.cosine_similarity(features[b, t + c] - features[b, t], goals[b, t], dim=0)
        for b in range(n) for t in range(steps + 1 - c) if t + c <= lengths[b]
    ]
    assert_close(manager_loss(goals, features, lengths, c, weights), -torch.stack(terms).mean())


def test_the_rescaled_activation_is_the_papers_formula_of_each_columns_ranks():
    torch.manual_seed(0)
    values = torch.rand(7, 3)
    values[2, 1] = values[5, 1]  # a tie: the earlier row ranks higher
    valid = torch.ones(7, 3, dtype=torch.bool)
    valid[[1, 4], 2] = False
    delta = 12.0
    expected = torch.zeros(7, 3)
    for j in range(3):
        rows = [b for b in range(7) if valid[b, j]]
        order = sorted(rows, key=lambda b: (-float(values[b, j]), b))
        for rank, b in enumerate(order, start=1):
            expected[b, j] = torch.sigmoid(torch.tensor(delta * (0.5 - rank / len(rows))))
    got = rescaled_activation(values, valid, delta)
    assert_close(got, expected)
    assert got[2, 1] > got[5, 1]


@pytest.mark.parametrize("fast", [False, True])
def test_monte_carlo_values_every_c_tokens_complete_each_prefix_and_end_with_the_sequences_score(fast):
    d = tiny_discriminator()
    policy = tiny_policy(d, step_size=2, eos_id=2, fast=fast)
    # D scores the share of the first two positions that hold (4, 7): a prefix of 2 tokens fixes it
    target = TargetDiscriminator([4, 7, 0, 0, 0], V, weights=[1, 1, 0, 0, 0])
    envs = SeqGANVectorEnv(3, vocab_size=V, max_len=T, reward_model=target, eos_id=2, tensors=True)
    agent = LeakGANAgent(policy, LeakGANAgentConfig(rollouts=3))
    tokens = torch.tensor([[4, 7, 3, 8, 5], [4, 1, 2, 0, 0], [3, 7, 6, 6, 2]])
    lengths = torch.tensor([5, 3, 5])  # row 1 ended with EOS at its third token
    values, valid = agent.boundary_values(envs, tokens, lengths)
    assert valid.tolist() == [[True, True, True], [True, True, False], [True, True, True]]
    expected = torch.tensor([[1.0, 1.0, 1.0], [0.5, 0.5, 0.0], [0.5, 0.5, 0.5]])
    assert_close(values, expected)  # column 1 of row 1 is the finished sequence's own score


# ---------------------------------------------------------------------------------------------
# Learning: the adversarial updates move an MLE-trained policy onto the rewarded mode


MODES = torch.tensor([[5, 3, 6, 4], [1, 2, 7, 0], [4, 6, 3, 5], [2, 7, 1, 3]])
"""four sequences the policy first learns by MLE; the reward model rewards the first"""


def one_hot_features(tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """A fixed leak: one-hot (position, token) of each prefix, saying nothing of the reward."""
    inside = (torch.arange(tokens.shape[1]) < lengths.unsqueeze(1)).float()
    return (F.one_hot(tokens, 8).float() * inside.unsqueeze(-1)).flatten(1)


def target_share(policy: LeakGANPolicy) -> float:
    samples = policy.sample(512, 4, generator=torch.Generator().manual_seed(123))
    return float((samples == MODES[0]).all(1).float().mean())


def train_on_modes(seed: int, reward_model, updates: int = 80) -> tuple[float, float]:
    envs = SeqGANVectorEnv(32, vocab_size=8, max_len=4, eos_id=None, autoreset_mode="SameStep", tensors=True)
    envs.set_reward_model(reward_model)
    torch.manual_seed(seed)
    policy = LeakGANPolicy(LeakGANConfig(8, 4, 32, goal_dim=8, step_size=2, eos_id=None), one_hot_features)
    optimizer, rng = torch.optim.Adam(policy.parameters(), 0.01), torch.Generator().manual_seed(seed)
    for _ in range(150):  # MLE on the four modes (both modules: token_nll)
        nll, mask = policy.token_nll(MODES[torch.randint(0, 4, (32,), generator=rng)])
        optimizer.zero_grad()
        (nll.sum() / mask.sum()).backward()
        optimizer.step()
    start = target_share(policy)
    config = LeakGANAgentConfig(learning_rate=0.001, manager_learning_rate=0.01, interleave_every=0)
    agent = LeakGANAgent(policy, config, seed=seed)
    for _ in range(updates):
        agent.update(envs)
    return start, target_share(policy)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_leakgan_moves_onto_the_rewarded_sequence_and_a_constant_reward_does_not(seed):
    start, end = train_on_modes(seed, TargetDiscriminator(MODES[0].tolist(), 8))
    assert 0.15 < start < 0.4 and end > 0.9
    _, control = train_on_modes(seed, ConstantReward(1.0))
    assert control < 0.3


# ---------------------------------------------------------------------------------------------
# Through the trainer: --gan leakgan, and an exact resume


def make_trainer(tmp_path, name, **overrides):
    rng = random.Random(0)
    lines = [f"{rng.choice(['ab', 'cd', 'ef'])}{rng.choice('xy')}{rng.choice(['gh', 'ij', 'kl'])}." for _ in range(160)]
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = SeqGANConfig(**{**preset_values("tiny"), "corpus": str(corpus), "gan": "leakgan", **overrides})
    config.gan_settings = {"leakgan": {"interleave_every": 1, "interleave_batches": 1, "rollouts": 2}}
    config.validate()
    data = prepare_data(config)
    config.max_len = data.max_len
    run = create_run(tmp_path / name, config, data)
    return textgan.gans.build_trainer(config, run, data.tokenizer, data.train, data.test, torch.device("cpu"), quiet=True)


def test_the_trainer_runs_leakgan_and_resumes_exactly(tmp_path):
    straight = make_trainer(tmp_path, "a", rounds=2)
    assert isinstance(straight.generator, LeakGANPolicy) and isinstance(straight.agent, LeakGANAgent)
    assert straight.envs.config.rollouts == 0  # the agent rolls out itself, every c tokens
    straight.train()
    adversarial = [r for r in straight.run.read_log() if r["phase"] == "adversarial"]
    assert len(adversarial) == 2
    assert all({"worker_loss", "manager_loss", "intrinsic_reward", "interleaved_mle_loss", "d_loss"} <= set(r) for r in adversarial)
    first = make_trainer(tmp_path, "b", rounds=1)
    first.train()
    config = first.config
    config.rounds = 2
    resumed = textgan.gans.build_trainer(
        config, first.run, first.tokenizer, first.train_tokens, first.test_tokens, torch.device("cpu"), quiet=True
    )
    resumed.load()
    resumed.train()
    for a, b in ((straight.generator, resumed.generator), (straight.reward_model.discriminator, resumed.reward_model.discriminator)):
        for x, y in zip(a.state_dict().values(), b.state_dict().values()):
            assert_close(x, y, rtol=0, atol=0)
    assert straight.run.read_log()[-1]["nll_test"] == resumed.run.read_log()[-1]["nll_test"]
    assert int(resumed.agent.updates.count) == 2


def test_leakgan_refuses_another_agent_and_bad_settings_in_one_line():
    from runcore.errors import UserError
    from textgan.gans.base import check_settings

    with pytest.raises(UserError, match="its own agent"):
        check_settings(SeqGANConfig(gan="leakgan", agent="ppo"))
    with pytest.raises(UserError, match="leakgan.delta"):
        check_settings(SeqGANConfig(gan="leakgan", gan_settings={"leakgan": {"delta": -1.0}}))
    with pytest.raises(UserError, match="step_size"):
        check_settings(SeqGANConfig(gan="leakgan", gan_settings={"leakgan": {"step_size": 0}}))
    with pytest.raises(UserError, match="generator of its own, not --policy transformer"):
        check_settings(SeqGANConfig(gan="leakgan", policy="transformer"))
    with pytest.raises(UserError, match="generator of its own, not --conditional"):
        check_settings(SeqGANConfig(gan="leakgan", conditional=True))
