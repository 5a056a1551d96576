"""Class-conditional generation: labelled corpora, the class in the observation, a conditional
policy that obeys its class, class-aware Monte Carlo rewards, SentiGAN's reward, the CLI."""

from __future__ import annotations

import json
import math
import os
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from gymnasium.utils.env_checker import check_env
from torch.nn import functional as F
from torch.testing import assert_close

from runcore.errors import UserError
from textgan.agents import collect_rollout, replay
from textgan.cli import main
from textgan.data import build_tokenizer
from textgan.data.corpus import corpus_lines
from textgan.data.labels import LabelledText, read_class_labels, split_labelled
from textgan.env.seqgan_env import SeqGANEnv
from textgan.env.streams import counter_uniforms
from textgan.env.vector_env import SeqGANVectorEnv
from textgan.models import ConditionalGenerator, ConditionalGeneratorConfig, DiscriminatorConfig, sample_from_logits
from textgan.models.classifier import ClassDiscriminator
from textgan.policies import TransformerConfig, TransformerPolicy, repeat_rows, select_rows, where_rows
from textgan.rewards import ClassDiscriminatorReward, fit_reward_model
from tests.test_cli import assert_one_line_error
from tests.test_kill_resume import assert_same_run, kill_and_resume, run

TINY = ["--preset", "tiny", "--quiet"]
CLASS_TOKENS = ((4, 5, 6), (7, 8, 9))  # class 0 writes only 4-6, class 1 only 7-9


def labelled_corpus(path, n=96, seed=0):
    """``label<TAB>text`` lines whose two classes use disjoint words."""
    rng = random.Random(seed)
    words = {"calm": ["sea", "sky", "moon"], "busy": ["car", "man", "road"]}
    lines = []
    for i in range(n):
        label = ("calm", "busy")[i % 2]
        lines.append(f"{label}\t{' '.join(rng.choice(words[label]) for _ in range(rng.randint(2, 4)))}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def conditional_policy(vocab_size: int, seed: int, num_classes: int = 2, scale: float = 1.0) -> ConditionalGenerator:
    torch.manual_seed(seed)
    policy = ConditionalGenerator(ConditionalGeneratorConfig(vocab_size, embed_dim=8, hidden_dim=8, num_classes=num_classes))
    with torch.no_grad():
        for parameter in policy.parameters():
            parameter.mul_(scale / 0.1)
    return policy


def conditional_transformer(vocab_size: int, seed: int, num_classes: int = 2, scale: float = 1.0, max_len: int = 7) -> TransformerPolicy:
    """A conditional Transformer whose next-token probabilities clearly depend on the prefix and the class."""
    torch.manual_seed(seed)
    policy = TransformerPolicy(TransformerConfig(vocab_size, max_len, dim=16, layers=2, heads=2, num_classes=num_classes))
    with torch.no_grad():
        for parameter in policy.parameters():
            if parameter.dim() > 1:
                parameter.normal_(std=0.5 * scale)
    return policy


CONDITIONAL_POLICIES = {"lstm": conditional_policy, "transformer": conditional_transformer}


# ---- labelled corpora -------------------------------------------------------------------------


def test_label_parsing():
    assert split_labelled("person\ta man rides a horse") == ("person", "a man rides a horse")
    assert split_labelled(" calm \t sea\tsky ") == ("calm", "sea\tsky")  # the first tab separates
    for line in ("no label here", "\tno label", "label\t", "label\t   "):
        assert split_labelled(line) is None, line


def test_labels_follow_the_rows_that_encoding_keeps(tmp_path):
    (tmp_path / "train.tsv").write_text("b\tx y\na\tx y x y x\nc\ty\nb\ty x\n", encoding="utf-8")
    (tmp_path / "test.tsv").write_text("c\tx\nb\ty y y y y y\n", encoding="utf-8")
    (tmp_path / "test_a.tsv").write_text("a\tx\n", encoding="utf-8")
    split = lambda name: LabelledText(corpus_lines(tmp_path / name))  # noqa: E731
    assert list(split("train.tsv")) == ["x y", "x y x y x", "y", "y x"]
    tokenizer = build_tokenizer("word", split("train.tsv"))
    labels = read_class_labels(tokenizer, split("train.tsv"), split("test.tsv"), max_len=3, long_lines="drop")
    assert labels.names == ("b", "c")  # "a"'s only training line is too long: dropped with its label
    assert labels.train.tolist() == [0, 1, 0] and labels.test.tolist() == [1, 0]  # test lines are cut, never dropped
    with pytest.raises(UserError, match="no training line has: a"):
        read_class_labels(tokenizer, split("train.tsv"), split("test_a.tsv"), 3, "drop")
    kept = read_class_labels(tokenizer, split("train.tsv"), split("test_a.tsv"), 5, "drop")
    assert kept.names == ("a", "b", "c") and kept.train.tolist() == [1, 0, 2, 1] and kept.test.tolist() == [0]
    assert read_class_labels(tokenizer, split("train.tsv"), split("test.tsv"), 3, "cut").train.tolist() == [1, 0, 2, 1]


def class_folder(folder: Path, lines: list[str]) -> Path:
    """The folder of class files equivalent to ``label<TAB>text`` ``lines`` (one file per label)."""
    folder.mkdir()
    for line in lines:
        label, text = line.split("\t", 1)
        with open(folder / f"{label}.txt", "a", encoding="utf-8") as file:
            file.write(text + "\n")
    return folder


def prepared(tmp_path, corpus, test_file=None, **settings):
    from textgan.seqgan.config import SeqGANConfig
    from textgan.seqgan.prepare import prepare_data

    config = SeqGANConfig(corpus=str(corpus), test_file=None if test_file is None else str(test_file), conditional=True, **settings)
    return prepare_data(config, quiet=True)


@pytest.mark.parametrize("settings", [{"tokenizer": "word", "test_fraction": 0.25, "seed": 3}, {"tokenizer": "char", "max_len": 7, "long_lines": "drop"}])
def test_a_folder_of_class_files_prepares_as_the_equivalent_labelled_file(tmp_path, settings):
    rng = random.Random(1)
    words = {"calm": ["sea", "sky", "moon"], "busy": ["car", "man", "road"], "zen": ["om"]}
    make = lambda label: f"{label}\t{' '.join(rng.choice(words[label]) for _ in range(rng.randint(1, 4)))}"  # noqa: E731
    lines = sorted((make(rng.choice(list(words))) for _ in range(60)), key=lambda line: line.split("\t")[0])  # the files' order
    test_lines = sorted((make(label) for label in words for _ in range(3)), key=lambda line: line.split("\t")[0])
    (tmp_path / "corpus.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "test.tsv").write_text("\n".join(test_lines) + "\n", encoding="utf-8")
    folder, test_folder = class_folder(tmp_path / "corpus", lines), class_folder(tmp_path / "test", test_lines)
    (folder / ".DS_Store").write_bytes(b"\x00\x01")  # a hidden file is not a class
    for test_file in (None, "test"):  # the seeded split, and a test folder beside the corpus folder
        from_file = prepared(tmp_path, tmp_path / "corpus.tsv", test_file and tmp_path / "test.tsv", **settings)
        from_folder = prepared(tmp_path, folder, test_file and test_folder, **settings)
        assert from_folder.labels.names == from_file.labels.names == ("busy", "calm", "zen")
        for name in ("train", "test"):
            assert torch.equal(getattr(from_folder, name), getattr(from_file, name)), (test_file, name)
            assert torch.equal(getattr(from_folder.labels, name), getattr(from_file.labels, name)), (test_file, name)
        assert from_folder.max_len == from_file.max_len and from_folder.tokenizer.vocab_size == from_file.tokenizer.vocab_size
        assert len(from_folder.test) == (9 if test_file else round(60 * settings.get("test_fraction", 0.1)))
    assert set(from_folder.labels.train.tolist()) == {0, 1, 2}  # the check can fail: every class has rows


def test_bad_class_folders_are_one_line_errors_that_write_nothing(tmp_path, capsys):
    folder = class_folder(tmp_path / "moods", [f"{label}\t{text}" for label, text in [("calm", "sea sky"), ("busy", "car man")] * 4])
    test = class_folder(tmp_path / "test", ["calm\tsea"])
    empty, tabbed, latin, dotted = (tmp_path / name for name in ("empty", "tabbed", "latin", "dotted"))
    empty.mkdir()
    (empty / ".hidden").write_text("a\n", encoding="utf-8")  # hidden files are not classes
    tabbed.mkdir()
    (tabbed / "a\tb.txt").write_text("x y\n", encoding="utf-8")
    (tabbed / "c.txt").write_text("x y\n", encoding="utf-8")
    latin.mkdir()
    (latin / "calm.txt").write_bytes("s\u00e9a\n".encode("latin-1"))
    (latin / "busy.txt").write_text("car\n", encoding="utf-8")
    dotted.mkdir()
    (dotted / "calm.txt").write_text("sea\n", encoding="utf-8")
    (dotted / "calm.csv").write_text("sky\n", encoding="utf-8")
    (folder / "blank.txt").write_text("\n  \n", encoding="utf-8")
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    out = str(tmp_path / "run")
    train = lambda *args: main(["train", *args, "--out", out, "--tokenizer", "word", *TINY])  # noqa: E731
    assert_one_line_error(train("--corpus", str(empty), "--conditional"), capsys, "has no class files", "pos.txt")
    assert_one_line_error(train("--corpus", str(folder), "--conditional"), capsys, "class file", "blank.txt is empty")
    (folder / "blank.txt").unlink()
    assert_one_line_error(train("--corpus", str(folder)), capsys, f"corpus {folder} is a folder", "--conditional")
    assert_one_line_error(train("--corpus", str(folder), "--conditional", "--test-file", str(test)), capsys, "has no file for class(es) busy")
    (test / "busy.txt").write_text("car\n", encoding="utf-8")
    (test / "zen.txt").write_text("om\n", encoding="utf-8")
    assert_one_line_error(train("--corpus", str(folder), "--conditional", "--test-file", str(test)), capsys, "has class(es) the corpus has not: zen")
    assert_one_line_error(train("--corpus", str(latin), "--conditional"), capsys, "class file", "calm.txt is not valid UTF-8")
    assert_one_line_error(train("--corpus", str(tabbed), "--conditional"), capsys, "cannot be a class", "no tab")
    assert_one_line_error(train("--corpus", str(dotted), "--conditional"), capsys, "two files of class 'calm'", "one file per class")
    (test / "busy.txt").unlink(), (test / "zen.txt").unlink()
    assert sorted(str(p) for p in tmp_path.rglob("*")) == [p for p in before if not p.endswith("blank.txt")]  # nothing written


def test_a_conditional_transformer_trains_on_a_class_folder_and_samples_its_classes(tmp_path, capsys):
    folder = class_folder(tmp_path / "moods", labelled_corpus(tmp_path / "corpus.tsv", n=48).read_text(encoding="utf-8").splitlines())
    out = tmp_path / "run"
    args = ["--corpus", str(folder), "--conditional", "--policy", "transformer", "--gan", "sentigan", "--tokenizer", "word"]
    assert main(["train", *args, "--out", str(out), *TINY, "--rounds", "1"]) == 0
    capsys.readouterr()
    assert main(["sample", str(out), "-n", "4"]) == 0
    assert [line.split("\t")[0] for line in capsys.readouterr().out.splitlines()] == ["busy", "calm"] * 2  # the names, in sorted order
    assert main(["sample", str(out), "-n", "2", "--label", "calm"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2
    assert_one_line_error(main(["sample", str(out), "--label", "moods"]), capsys, "'moods'", "busy, calm")


# ---- the class in the observation ---------------------------------------------------------------


def test_the_plain_env_observes_the_class_asked_for_or_drawn():
    env = SeqGANEnv(vocab_size=8, max_len=3, num_classes=3, eos_id=None)
    assert set(env.observation_space.spaces) == {"tokens", "length", "label"}
    check_env(env, skip_render_check=True)
    observation, _ = env.reset(seed=0, options={"label": 2})
    assert observation["label"].tolist() == [2] and observation in env.observation_space
    observation, *_ = env.step(5)
    assert observation["label"].tolist() == [2]  # kept for the whole episode
    drawn = [int(env.reset(seed=s)[0]["label"][0]) for s in range(60)]
    assert set(drawn) == {0, 1, 2}  # every class is drawn
    assert drawn == [int(env.reset(seed=s)[0]["label"][0]) for s in range(60)]  # and from the seed alone
    with pytest.raises(ValueError, match="cannot carry the class"):
        SeqGANEnv(vocab_size=8, max_len=3, num_classes=3, observation="tokens")


def test_the_batched_env_gives_sub_env_i_the_classes_of_a_plain_env_seeded_seed_plus_i():
    envs = SeqGANVectorEnv(4, vocab_size=8, max_len=2, num_classes=3, eos_id=None)
    observation, _ = envs.reset(seed=7)
    assert observation["label"].shape == (4, 1) and observation in envs.observation_space
    batched = [observation["label"][:, 0].tolist()]
    for step in range(9):  # NEXT_STEP autoreset: an episode of 2 steps, then a reset step
        observation, *_ = envs.step([5, 6, 7, 4])
        if step % 3 == 2:
            batched.append(observation["label"][:, 0].tolist())
    for row in range(4):
        env = SeqGANEnv(vocab_size=8, max_len=2, num_classes=3, eos_id=None)
        alone = [int(env.reset(seed=7 + row)[0]["label"][0])] + [int(env.reset()[0]["label"][0]) for _ in range(3)]
        assert [labels[row] for labels in batched] == alone, row
    asked, _ = envs.reset(options={"labels": [2, -1, 0, 1]})
    assert asked["label"][[0, 2, 3], 0].tolist() == [2, 0, 1]
    with pytest.raises(ValueError, match="outside the env's 3 classes"):
        envs.reset(options={"labels": [3, 0, 0, 0]})


def test_the_agents_rollout_starts_each_episode_from_its_class():
    policy = conditional_policy(8, seed=0, scale=1.0)
    envs = SeqGANVectorEnv(6, vocab_size=8, max_len=3, tensors=True, autoreset_mode="SameStep", num_classes=2)
    rollout = collect_rollout(envs, policy, torch.Generator().manual_seed(0), num_steps=7)
    assert rollout.labels.shape == (7, 6) and set(rollout.labels.unique().tolist()) == {0, 1}
    log_probs, _, _ = replay(policy, rollout.inputs, rollout.starts, rollout.actions, rollout.labels)
    assert_close(log_probs, rollout.log_probs)
    wrong, _, _ = replay(policy, rollout.inputs, rollout.starts, rollout.actions, 1 - rollout.labels)
    assert (wrong - rollout.log_probs).abs().max() > 1e-2  # the class matters: the check can fail


# ---- the conditional Transformer: its cache against full passes ---------------------------------


@torch.no_grad()
def test_the_conditional_transformers_cached_steps_and_prefix_states_equal_a_full_pass():
    policy = conditional_transformer(9, seed=0, num_classes=3)
    tokens = torch.randint(3, 9, (6, 7), generator=torch.Generator().manual_seed(1))
    labels = torch.tensor([0, 1, 2, 0, 1, 2])
    full = policy(tokens, labels)  # (N, T, V): position t predicts tokens[:, t] given the row's class
    assert (full - policy(tokens, (labels + 1) % 3)).abs().max() > 1.0  # the class matters: a lost class would show
    state, previous = policy.initial_state(6, labels=labels), torch.full((6,), policy.config.bos_id)
    for t in range(7):
        logits, state = policy.step(previous, state)
        assert_close(logits, full[:, t], msg=f"position {t}")
        previous = tokens[:, t]
    lengths = torch.tensor([0, 1, 3, 4, 6, 2])
    logits, state = policy.prefix_states(tokens, lengths, labels)
    assert_close(logits, full[torch.arange(6), lengths])
    assert state.labels.tolist() == labels.tolist()
    state = select_rows(repeat_rows(state, 2), torch.arange(0, 12, 2))  # what rollouts do to a state keeps the class
    for j in range(6):  # each row continues from its own prefix, in its own class
        at = (lengths + j).clamp_max(6)
        logits, state = policy.step(tokens[torch.arange(6), at], state)
        going = (lengths + j + 1 < 7).nonzero().squeeze(1)
        assert_close(logits[going], full[going, lengths[going] + j + 1], msg=f"step {j}")
    nll, mask = policy.token_nll(tokens, labels)
    assert_close(nll, F.cross_entropy(full.transpose(1, 2), tokens, reduction="none") * mask)
    with pytest.raises(ValueError, match="pass labels"):
        policy.initial_state(2)
    with pytest.raises(ValueError, match="not class-conditional"):
        TransformerPolicy(TransformerConfig(9, 7)).prefix_states(tokens, lengths, labels)


# ---- a conditional policy obeys its class -------------------------------------------------------


def disjoint_corpus(n: int, rng: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``(n, 6)`` rows of 2-5 tokens of their class's set, then EOS and PAD; and their classes."""
    labels = torch.randint(2, (n,), generator=rng)
    tokens = torch.zeros(n, 6, dtype=torch.long)
    for i in range(n):
        length = int(torch.randint(2, 6, (1,), generator=rng))
        choices = torch.tensor(CLASS_TOKENS[int(labels[i])])
        tokens[i, :length] = choices[torch.randint(3, (length,), generator=rng)]
        tokens[i, length] = 2
    return tokens, labels


def own_class_share(tokens: torch.Tensor, label: int) -> float:
    content = tokens[tokens >= 4]
    return float(torch.isin(content, torch.tensor(CLASS_TOKENS[label])).float().mean())


LEARNERS = {
    "lstm": lambda: ConditionalGenerator(ConditionalGeneratorConfig(vocab_size=10, embed_dim=16, hidden_dim=16, num_classes=2)),
    "transformer": lambda: TransformerPolicy(TransformerConfig(vocab_size=10, max_len=6, dim=16, layers=1, heads=2, num_classes=2)),
}


@pytest.mark.parametrize("kind", LEARNERS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_samples_of_each_class_use_that_class_s_tokens(seed, kind, one_torch_thread):
    tokens, labels = disjoint_corpus(512, torch.Generator().manual_seed(seed))
    torch.manual_seed(seed)
    policy = LEARNERS[kind]()
    rng = torch.Generator().manual_seed(seed)
    before = [own_class_share(policy.sample(200, 6, torch.Generator().manual_seed(1), labels=torch.full((200,), c)), c) for c in (0, 1)]
    optimizer = torch.optim.Adam(policy.parameters(), lr=0.02)
    for _ in range(120):
        batch = torch.randint(len(tokens), (64,), generator=rng)
        loss = policy.mle_loss(tokens[batch], labels[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    for label in (0, 1):
        samples = policy.sample(400, 6, torch.Generator().manual_seed(2), labels=torch.full((400,), label))
        assert own_class_share(samples, label) >= 0.95, (label, own_class_share(samples, label))
    assert max(before) < 0.8  # untrained, the classes mix: the threshold is not free


# ---- class-aware Monte Carlo rewards and SentiGAN's reward --------------------------------------


def class_reward(vocab_size: int, max_len: int, num_classes: int = 2, seed: int = 3) -> ClassDiscriminatorReward:
    torch.manual_seed(seed)
    d = ClassDiscriminator(DiscriminatorConfig(vocab_size, max_len, embed_dim=8, filter_sizes=(1, 2), num_filters=(6, 6)), num_classes + 1)
    with torch.no_grad():
        d.output.weight.mul_(20.0)  # probabilities far from uniform: a wrong class shows
    return ClassDiscriminatorReward(d)


@torch.no_grad()
def naive_class_value(policy, reward, prefix: list[int], label: int, max_len: int, uniforms: torch.Tensor) -> float:
    """Finish ``prefix`` of class ``label`` once per row of ``uniforms``, one token at a time, each
    completion scored alone by D's probability of ``label``."""
    cfg, scores = policy.config, []
    for row_uniforms in uniforms:
        state = policy.initial_state(1, labels=torch.tensor([label]))
        for token in [cfg.bos_id, *prefix]:
            logits, state = policy.step(torch.tensor([token]), state)
        tokens = list(prefix)
        for u in row_uniforms:
            token = int(sample_from_logits(logits, u.view(1))[0])
            tokens.append(token)
            if token == cfg.eos_id or len(tokens) == max_len:
                break
            logits, state = policy.step(torch.tensor([token]), state)
        padded = torch.tensor([tokens + [cfg.pad_id] * (max_len - len(tokens))])
        scores.append(float(F.softmax(reward.discriminator.eval()(padded), -1)[0, label]))
    return sum(scores) / len(scores)


@torch.no_grad()
@pytest.mark.parametrize("kind", CONDITIONAL_POLICIES)
def test_mc_rewards_of_a_conditional_policy_equal_a_naive_loop_each_rollout_keeping_its_class(kind):
    vocab_size, max_len, k, seed = 5, 4, 6, 10
    policy, reward = CONDITIONAL_POLICIES[kind](vocab_size, seed=4, scale=0.8), class_reward(vocab_size, max_len)
    labels = [0, 1, 1]
    envs = SeqGANVectorEnv(3, vocab_size=vocab_size, max_len=max_len, rollouts=k, tensors=True, num_classes=2, reward_model=reward)
    envs.sync_rollout_policy(policy, 0.0)
    assert type(envs.episodes.rollout_policy) is type(policy)
    envs.reset(seed=seed, options={"labels": labels})
    streams = [torch.Generator().manual_seed(seed + row) for row in range(3)]  # sub-env i is seeded seed + i
    prefixes, differs = [[], [], []], 0.0
    for actions in ([3, 0, 4], [4, 3, 0], [0, 0, 2]):  # row 2 ends with EOS at the last step
        _, _, terminated, _, info = envs.step(torch.tensor(actions))
        for row, action in enumerate(actions):
            prefixes[row].append(action)
            if terminated[row]:
                padded = torch.tensor([prefixes[row] + [0] * (max_len - len(prefixes[row]))])
                expected = float(F.softmax(reward.discriminator.eval()(padded), -1)[0, labels[row]])
                assert_close(float(info["d_score"][row]), expected)
                continue
            uniforms = torch.rand((k, max_len - len(prefixes[row])), generator=streams[row])
            expected = naive_class_value(policy, reward, prefixes[row], labels[row], max_len, uniforms)
            other = naive_class_value(policy, reward, prefixes[row], 1 - labels[row], max_len, uniforms)
            differs = max(differs, abs(expected - other))
            assert_close(float(info["q_value"][row]), expected, msg=f"row {row}, prefix {prefixes[row]}")
    assert differs > 0.05  # the other class's value is far off: a lost label fails


def test_k_plus_one_class_reward_and_its_training_step_equal_a_naive_computation():
    reward = class_reward(vocab_size=7, max_len=5, num_classes=3)
    tokens = torch.randint(7, (2, 4, 5), generator=torch.Generator().manual_seed(0))
    labels = torch.tensor([2, 0, 1, 2])
    d = reward.discriminator.eval()
    with torch.no_grad():
        expected = torch.tensor([[float(F.softmax(d(tokens[g, n : n + 1]), -1)[0, labels[n]]) for n in range(4)] for g in range(2)])
    assert_close(reward.score(tokens, labels), expected)
    # training: a real row's target is its class, a generated row's is k = 3
    rows, is_real = tokens[0], torch.tensor([True, False, True, False])
    assert reward.targets(is_real, labels).tolist() == [2, 3, 1, 3]
    d.dropout.p = 0.0  # deterministic for the comparison
    with torch.no_grad():
        logits = d(rows)
        l2 = (d.output.weight.square().sum() + d.output.bias.square().sum()) / 2
        naive = sum(-F.log_softmax(logits[i], -1)[t] for i, t in enumerate([2, 3, 1, 3])) / 4 + d.config.l2_reg * l2
    assert_close(reward.train_step(rows, is_real, labels)["d_loss"], naive)
    with pytest.raises(ValueError, match="labelled rows"):
        fit_reward_model(reward, rows, rows, 1, 2, torch.Generator())


def test_a_class_aware_reward_needs_a_conditional_env():
    with pytest.raises(ValueError, match="num_classes"):
        SeqGANVectorEnv(2, vocab_size=7, max_len=5, reward_model=class_reward(7, 5))


# ---- the command line ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def conditional_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("conditional")
    corpus = labelled_corpus(tmp / "corpus.tsv")
    out = tmp / "run"
    assert main(["train", "--corpus", str(corpus), "--conditional", "--gan", "sentigan", "--tokenizer", "word", "--out", str(out), *TINY]) == 0
    return corpus, out


def test_a_corpus_without_labels_given_conditional_is_one_line_and_writes_nothing(tmp_path, capsys):
    corpus = tmp_path / "plain.txt"
    corpus.write_text("a line of text\nanother line\nand a third\n", encoding="utf-8")
    out = tmp_path / "run"
    code = main(["train", "--corpus", str(corpus), "--conditional", "--out", str(out), *TINY])
    assert_one_line_error(code, capsys, "not label<TAB>text", "--conditional")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plain.txt"]
    code = main(["train", "--corpus", str(corpus), "--gan", "sentigan", "--out", str(out), *TINY])
    assert_one_line_error(code, capsys, "--gan sentigan", "--conditional")
    assert not out.exists()


def test_a_conditional_run_with_the_gpt2_policy_is_one_line_and_writes_nothing(tmp_path, capsys, monkeypatch):
    import importlib.util

    find_spec = importlib.util.find_spec  # as if transformers were installed: the class is what is refused
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object() if name == "transformers" else find_spec(name, *a))
    corpus = labelled_corpus(tmp_path / "corpus.tsv")
    out = tmp_path / "run"
    code = main(["train", "--corpus", str(corpus), "--conditional", "--policy", "gpt2", "--out", str(out), *TINY])
    assert_one_line_error(code, capsys, "--policy gpt2 is not class-conditional", "--policy transformer")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus.tsv"]


def test_sample_obeys_label_and_refuses_an_unknown_one(conditional_run, capsys):
    _, out = conditional_run
    assert main(["sample", str(out), "-n", "6"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[0] for line in lines] == ["busy", "calm"] * 3  # classes in turn, label<TAB>text
    assert main(["sample", str(out), "-n", "3", "--label", "calm"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3
    assert_one_line_error(main(["sample", str(out), "--label", "stormy"]), capsys, "'stormy'", "busy, calm")


def test_eval_reports_per_class_bleu_and_a_cached_classifier_s_accuracy(conditional_run, capsys):
    _, out = conditional_run
    assert main(["eval", str(out), "--json", "-n", "40"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert set(first["classes"]) == {"busy", "calm"}
    for entry in first["classes"].values():
        assert entry["samples"] == 40 and entry["references"] > 0 and 0.0 <= entry["classifier_accuracy"] <= 1.0
        assert set(entry["bleu"]) == {"2", "3", "4", "5"} and entry["real_test_accuracy"] == 1.0
    assert first["classifier"]["test_accuracy"] == 1.0  # disjoint words: the judge itself is right
    assert first["classifier"]["cached"] is False and (out / "classifier.safetensors").is_file()
    assert main(["eval", str(out), "--json", "-n", "40"]) == 0
    second = json.loads(capsys.readouterr().out)
    assert second["classifier"] == {**first["classifier"], "cached": True}
    assert second["classes"] == first["classes"]


RESUME = ["--preset", "tiny", "--mle-epochs", "2", "--d-pretrain-steps", "1", "--rounds", "3", "--checkpoint-every", "1", "--quiet"]


def test_a_conditional_run_killed_and_resumed_ends_as_an_uninterrupted_one(tmp_path):
    corpus = labelled_corpus(tmp_path / "corpus.tsv", n=48)
    args = ["--corpus", corpus, "--conditional", "--gan", "sentigan", "--tokenizer", "word", *RESUME]
    straight = run("textgan", ["train", *args, "--out", "straight"], cwd=tmp_path)
    assert straight.returncode == 0, straight.stderr
    points = ['log:"phase": "adversarial", "step": 2,']  # resumed from round 1's checkpoint: data, labels, streams
    kill_and_resume("textgan", ["train", *args, "--out", "killed"], ["train", "--resume", "killed", "--quiet"], points, cwd=tmp_path)
    assert_same_run(tmp_path / "killed", tmp_path / "straight")


def test_the_docs_snippets_run(tmp_path):
    """Every Python snippet of docs/conditional.md, in order, in one folder."""
    text = (Path(__file__).resolve().parent.parent / "docs" / "conditional.md").read_text(encoding="utf-8")
    snippets = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(snippets) == 3
    for index, snippet in enumerate(snippets):
        (tmp_path / f"snippet{index}.py").write_text(snippet, encoding="utf-8")
        result = subprocess.run([sys.executable, f"snippet{index}.py"], capture_output=True, text=True, timeout=300, cwd=tmp_path,
                                env={**os.environ, "OMP_NUM_THREADS": "1"})  # fmt: skip
        assert result.returncode == 0, result.stderr


@torch.no_grad()
@pytest.mark.parametrize("kind", CONDITIONAL_POLICIES)
def test_the_sync_free_conditional_loop_reads_nothing_on_the_host(kind):
    """The GPU path's promise, audited on the CPU: a conditional env with SentiGAN's reward and a
    conditional policy steps, rolls out and autoresets (drawing classes) without a host read."""
    from tests.test_gpu_sync import no_host_reads

    vocab, max_len, batch = 9, 5, 6
    envs = SeqGANVectorEnv(batch, vocab_size=vocab, max_len=max_len, rollouts=3, autoreset_mode="SameStep", tensors=True,
                           sync_free=True, random_stream="counter", num_classes=2, reward_model=class_reward(vocab, max_len))  # fmt: skip
    policy = CONDITIONAL_POLICIES[kind](vocab, seed=1)
    envs.sync_rollout_policy(policy, 0.0)
    envs.sync_rollout_policy(policy, 0.8)
    envs.reset(seed=0)
    seeds = torch.arange(batch)

    def loop(steps: int) -> torch.Tensor:
        episodes, total = envs.episodes, torch.zeros(())
        state = policy.initial_state(batch, labels=episodes.labels)
        previous = torch.full((batch,), policy.config.bos_id)
        for t in range(steps):
            logits, state = policy.step(previous, state)
            action = sample_from_logits(logits, counter_uniforms(seeds, torch.full((batch,), t), 1, 1).view(batch))
            _, reward, _, _, info = envs.step(action)
            total = total + reward.sum() + info["q_value"].sum()
            fresh = episodes.lengths == 0
            state = where_rows(fresh, policy.initial_state(batch, labels=episodes.labels), state)
            previous = torch.where(fresh, policy.config.bos_id, action)
        return total

    loop(1)  # the reward model's first scores are checked in full (one read)
    with no_host_reads():
        total = loop(3 * max_len)
        loss = policy.mle_loss(policy.sample(8, max_len, torch.Generator().manual_seed(0), labels=torch.arange(8) % 2), torch.arange(8) % 2)
    envs.check()
    assert math.isfinite(float(total)) and math.isfinite(float(loss))
