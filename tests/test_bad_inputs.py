"""Bad inputs a user can give: each is one line naming the problem and the fix, exit 2, no
traceback, and no file created or changed (issue 13: number checks, text files, non-regular files,
misleading messages, reward models that return garbage).

CLI cases run in-process through ``textgan.cli.main`` / ``imagegan.cli.main`` on corpora of a few
lines in ``tmp_path``; nothing here trains.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from imagegan.cli import main as imagegan_main
from runcore import load_tensors
from runcore.errors import CheckpointError, UserError
from runcore.files import require_regular_file
from runcore.memory import format_bytes, memory_limit
from runcore.printable import one_line, printable
from runcore.ranges import SettingError
from textgan.agents import PPOConfig, ReinforceConfig
from textgan.cli import main
from textgan.env.vector_env import SeqGANVectorEnv
from textgan.gans import build_trainer
from textgan.models import Discriminator, DiscriminatorConfig
from textgan.rewards.base import CallableReward, ProbRealReward, RewardScoresError, checked_scores
from textgan.rewards.discriminator import DiscriminatorReward
from textgan.seqgan import memory
from textgan.seqgan.config import SeqGANConfig, preset_values
from textgan.seqgan.prepare import prepare_data
from textgan.seqgan.runs import create_run

LINES = ["the cat sat", "a dog ran", "the dog sat on a mat", "a cat ran on the log", "the bird sat"] * 4
TINY = ["--preset", "tiny", "--quiet", "--mle-epochs", "0", "--d-pretrain-steps", "0", "--rounds", "0"]
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def write_corpus(path: Path, lines=LINES) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def tree(folder: Path) -> dict[str, object]:
    """Every entry under ``folder``: a regular file's bytes, else its kind (never opens a FIFO).
    The run lock's ``.lock`` is left out: taking the lock rewrites its pid."""
    entries: dict[str, object] = {}
    for path in sorted(folder.rglob("*")):
        if path.name == ".lock":
            continue
        entries[str(path.relative_to(folder))] = path.read_bytes() if path.is_file() else ("dir" if path.is_dir() else "special")
    return entries


def one_line_error(code: int, capsys, *fragments: str) -> str:
    """Exit status 2 and exactly one stderr line ``error: ...`` holding ``fragments``; no traceback."""
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert code == 2, captured.err
    assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
    assert "Traceback" not in captured.err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def corpus(tmp_path):
    return write_corpus(tmp_path / "corpus.txt")


def train_fails(tmp_path, capsys, args, *fragments) -> str:
    """``textgan train`` with ``args`` must fail in one line, leaving ``tmp_path`` as it was."""
    before = tree(tmp_path)
    code = main(["train", "--out", str(tmp_path / "run"), *TINY, *args])
    message = one_line_error(code, capsys, *fragments)
    assert tree(tmp_path) == before
    return message


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A tiny word-level run with an untrained generator saved as its final checkpoint."""
    folder = tmp_path_factory.mktemp("bad-inputs-run")
    config = SeqGANConfig(**{**preset_values("tiny"), "corpus": str(write_corpus(folder / "corpus.txt")), "tokenizer": "word",
                             "test_fraction": 0.25, "preset": "tiny"})  # fmt: skip
    data = prepare_data(config)
    config.max_len = data.max_len
    run = create_run(folder / "run", config, data)
    build_trainer(config, run, data.tokenizer, data.train, data.test, torch.device("cpu"), quiet=True).save("final")
    return run.path


@pytest.fixture
def run_copy(run_dir, tmp_path):
    """A fresh copy of ``run_dir`` to break."""
    return Path(shutil.copytree(run_dir, tmp_path / "run", ignore=shutil.ignore_patterns(".lock")))


# ---- 1. option values must be finite and in range -------------------------------------------


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--mle-lr", "inf"], "--mle-lr inf must be finite and positive"),
        (["--d-lr", "nan"], "--d-lr nan must be finite and positive"),
        (["--grad-clip", "inf"], "--grad-clip inf must be finite and positive"),
        (["--d-l2", "nan"], "--d-l2 nan must be finite and 0 or more"),
        (["--d-l2", "-1"], "--d-l2 -1.0 must be 0 or more"),
        (["--checkpoint-minutes", "nan"], "--checkpoint-minutes nan must be finite and 0 or more"),
        (["--checkpoint-minutes", "-1"], "--checkpoint-minutes -1.0 must be 0 or more"),
        (["--d-dropout", "nan"], "--d-dropout nan must be finite and in [0, 1)"),
        (["--rollout-rate", "inf"], "--rollout-rate inf must be finite and in [0, 1]"),
        (["--test-fraction", "nan"], "--test-fraction nan must be finite and in (0, 1)"),
        (["--d-filter-sizes", "0", "--d-num-filters", "8"], "--d-filter-sizes 0 must be at least 1"),
        (["--d-filter-sizes", "2", "--d-num-filters", "0"], "--d-num-filters 0 must be at least 1"),
        (["--max-len", "10", "--d-filter-sizes", "20", "--d-num-filters", "8"], "no filter fits sequences of 10 tokens"),
        (["--seed", "-5"], "--seed -5 must be in [0, 4294967295]"),
        (["--seed", str(2**64)], f"--seed {2**64} must be in [0, 4294967295]"),
        (["--seed", "1e23"], "invalid int value: '1e23'"),
        (["--vocab-size", "3"], "--vocab-size 3 must be at least 5"),
        (["--reinforce.learning-rate", "inf"], "--reinforce.learning-rate inf must be finite and positive"),
        (["--reinforce.kl-coef", "nan"], "--reinforce.kl-coef nan must be finite and 0 or more"),
        (["--reinforce.gamma", "nan"], "--reinforce.gamma nan must be finite and in [0, 1]"),
        (["--agent", "ppo", "--ppo.learning-rate", "nan"], "--ppo.learning-rate nan must be finite and positive"),
        (["--agent", "ppo", "--ppo.ent-coef=-inf"], "--ppo.ent-coef -inf must be a finite number"),
        (["--agent", "ppo", "--ppo.gae-lambda", "nan"], "--ppo.gae-lambda nan must be finite and in [0, 1]"),
        (["--gan", "dpgan", "--dpgan.real-weight", "nan"], "--dpgan.real-weight nan must be a finite number"),
    ],
)
def test_out_of_range_and_non_finite_options_are_one_line_errors(tmp_path, capsys, corpus, args, fragment):
    train_fails(tmp_path, capsys, ["--corpus", str(corpus), *args], fragment)


@pytest.mark.parametrize(
    "args, fragments",
    [
        # 23 GB and a killed process before: the discriminator alone would score 4096 x 100000 tokens
        (["--preset", "default", "--max-len", "100000"], ["sequences of 100000 tokens", "TiB of memory", "this machine has", "Lower --max-len"]),
        (["--batch-size", "100000000"], ["an MLE batch of 100000000 sequences", "this machine has", "--batch-size"]),
        (["--g-hidden-dim", "1000000"], ["the models' weights", "this machine has", "--g-hidden-dim"]),
        (["--num-negatives", "100000000000", "--max-len", "20"], ["encoded sequences", "--num-negatives"]),
    ],
)
def test_settings_that_cannot_fit_in_memory_are_refused_naming_the_estimate_and_the_limit(tmp_path, capsys, corpus, args, fragments):
    message = train_fails(tmp_path, capsys, ["--corpus", str(corpus), *args], *fragments)
    assert f"more than the {format_bytes(memory_limit())} this machine has" in message


def test_a_filter_wider_than_the_longest_line_is_refused_before_any_file_is_written(tmp_path, capsys, corpus):
    # max_len comes from the data (the longest line, 6 words), so this is found after reading it
    train_fails(tmp_path, capsys, ["--corpus", str(corpus), "--tokenizer", "word", "--d-filter-sizes", "100", "--d-num-filters", "8"],
                "--d-filter-sizes 100: no filter fits sequences of 6 tokens", "width of 6 or less")  # fmt: skip


def test_memory_check_refuses_exactly_above_the_limit(monkeypatch):
    config = SeqGANConfig(**preset_values("default"))
    needed = memory.estimate_memory(config, vocab_size=5000, max_len=64, sequences=20_000).total
    monkeypatch.setattr("runcore.memory.memory_limit", lambda: needed)
    config.check_sizes(5000, 64, 20_000)  # fits exactly
    monkeypatch.setattr("runcore.memory.memory_limit", lambda: needed - 1)
    with pytest.raises(UserError, match=f"need about {format_bytes(needed)} of memory") as error:
        config.check_sizes(5000, 64, 20_000)
    assert format_bytes(needed - 1) in str(error.value)


@pytest.mark.parametrize("preset", ["default", "paper", "tiny"])
def test_every_preset_on_the_poems_corpus_needs_under_2_gib(preset):
    # the check must not refuse the runs the project documents (poems: ~6000 characters, lines of 24)
    config = SeqGANConfig(**preset_values(preset))
    assert memory.estimate_memory(config, vocab_size=6000, max_len=32, sequences=16_774).total < 2 * 2**30


def test_every_numeric_setting_has_a_declared_range():
    from imagegan.config import RANGES as IMAGE_RANGES, TrainConfig
    from textgan.agents.ppo import PPO_RANGES
    from textgan.agents.reinforce import REINFORCE_RANGES
    from textgan.seqgan.config import RANGES

    unbounded_by_design = {"ent_coef"}  # a negative entropy weight is a penalty, a legitimate choice
    for cls, ranges in ((SeqGANConfig, RANGES), (TrainConfig, IMAGE_RANGES), (ReinforceConfig, REINFORCE_RANGES), (PPOConfig, PPO_RANGES)):
        hints = {f.name: str(f.type) for f in dataclasses.fields(cls)}
        numeric = {name for name, hint in hints.items() if ("int" in hint or "float" in hint) and "bool" not in hint}
        assert numeric - set(ranges) - unbounded_by_design == set(), cls.__name__


@pytest.mark.parametrize(
    "settings",
    [
        lambda: ReinforceConfig(learning_rate=float("inf")),
        lambda: PPOConfig(gae_lambda=float("nan")),
        lambda: PPOConfig(update_epochs=0),
    ],
)
def test_agent_settings_out_of_range_are_value_errors_to_library_callers(settings):
    with pytest.raises(ValueError) as error:
        settings()
    assert isinstance(error.value, SettingError) and "\n" not in str(error.value)


IMAGE_TINY = ["--data", "shapes", "--image-size", "16", "--limit", "32", "--batch-size", "4", "--width", "4", "--steps", "1", "--quiet"]


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--seed=-5"], "--seed -5 must be in [0, 4294967295]"),  # NumPy's ValueError traceback before
        (["--seed", str(2**70)], f"--seed {2**70} must be in [0, 4294967295]"),  # torch's overflow before
        (["--steps", "0"], "--steps 0 must be at least 1"),
        (["--checkpoint-minutes", "inf"], "--checkpoint-minutes inf must be finite and 0 or more"),
        (["--batch-size", "100000000"], "steps of 100000000 images of 16x16"),
        (["--width", "100000"], "this machine has"),
    ],
)
def test_imagegan_options_out_of_range_are_one_line_errors(tmp_path, capsys, args, fragment):
    before = tree(tmp_path)
    code = imagegan_main(["train", *IMAGE_TINY, "--model", "gan", "--out", str(tmp_path / "run"), *args])
    one_line_error(code, capsys, fragment)
    assert tree(tmp_path) == before


# ---- 2. text files: a byte-order mark and CRLF read like plain LF ----------------------------


def bleu_json(capsys, hyp: Path, ref: Path) -> dict:
    assert main(["eval", "bleu", "--hyp", str(hyp), "--ref", str(ref), "--n", "2", "--self", "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_eval_bleu_ignores_a_byte_order_mark_and_crlf(tmp_path, capsys):
    from textgan.metrics import bleu_multi, corpus_mean

    hyps, refs = ["the cat sat on the mat", "a dog sat on the log"], ["the cat sat on a mat"]
    plain, bom, crlf, ref = (tmp_path / name for name in ("plain.txt", "bom.txt", "crlf.txt", "ref.txt"))
    plain.write_bytes("\n".join(hyps).encode() + b"\n")
    bom.write_bytes(b"\xef\xbb\xbf" + plain.read_bytes())
    crlf.write_bytes(plain.read_bytes().replace(b"\n", b"\r\n"))
    ref.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(refs).encode() + b"\r\n")
    expected = bleu_json(capsys, plain, ref)
    words = [line.split() for line in hyps]
    assert expected["bleu"]["2"] == pytest.approx(corpus_mean(bleu_multi(words, [r.split() for r in refs], (2,))[2]), abs=1e-12)
    assert bleu_json(capsys, bom, ref) == expected
    assert bleu_json(capsys, crlf, ref) == expected
    # what the BOM did before: glued to the first word of the hypotheses, it changed the score
    glued = [["\ufeffthe", *words[0][1:]], words[1]]
    assert corpus_mean(bleu_multi(glued, [r.split() for r in refs], (2,))[2]) < expected["bleu"]["2"] - 0.01


def test_a_file_holding_only_a_byte_order_mark_is_empty(tmp_path, capsys, corpus):
    only_bom = tmp_path / "bom.txt"
    only_bom.write_bytes(b"\xef\xbb\xbf\r\n \n")
    train_fails(tmp_path, capsys, ["--corpus", str(only_bom)], f"corpus {only_bom} is empty")
    code = main(["eval", "bleu", "--hyp", str(only_bom), "--ref", str(corpus)])
    one_line_error(code, capsys, f"hypothesis file {only_bom} is empty")


def test_a_corpus_whose_name_has_glob_or_url_characters_reads_as_named(tmp_path):
    from textgan.data import read_lines

    # `datasets` took these as a glob / an fsspec chain: a DatasetGenerationError traceback before
    for name in ("c[1].txt", "a::b.txt", "star*.txt"):
        path = write_corpus(tmp_path / name, [f"line of {name}", "second"])
        assert read_lines(path) == [f"line of {name}", "second"]


# ---- 3. no read blocks on a non-regular file --------------------------------------------------


@pytest.fixture
def fifo():
    """Make a FIFO at a path. A reader that blocks on it (the bug) is released after 3 s by a shell
    that opens it for writing and closes it, so a regression fails instead of hanging: the
    blocked read is native code holding the GIL, out of pytest-timeout's reach."""
    writers = []

    def make(path: Path) -> Path:
        if path.exists():
            path.unlink()
        os.mkfifo(path)
        writers.append(subprocess.Popen(["sh", "-c", 'sleep 3; exec 3>"$0"', str(path)]))
        return path

    yield make
    for writer in writers:
        writer.kill()
        writer.wait()


@pytest.mark.timeout(20)
@pytest.mark.parametrize(
    "make, flag, fragment",
    [
        (lambda tmp, fifo: fifo(tmp / "pipe.txt"), "--corpus", "corpus {} is a named pipe (FIFO), not a file"),
        (lambda tmp, fifo: Path("/dev/null"), "--corpus", "corpus {} is a character device, not a file"),
        (lambda tmp, fifo: fifo(tmp / "pipe.txt"), "--test-file", "test file {} is a named pipe (FIFO), not a file"),
        (lambda tmp, fifo: (tmp / "folder").mkdir() or tmp / "folder", "--test-file", "test file {} is a directory, not a file"),
    ],
)
def test_a_fifo_device_or_folder_as_a_text_file_is_refused_without_reading(tmp_path, capsys, corpus, fifo, make, flag, fragment):
    bad = make(tmp_path, fifo)
    args = ["--corpus", str(corpus), flag, str(bad)] if flag == "--test-file" else [flag, str(bad)]
    train_fails(tmp_path, capsys, args, fragment.format(bad))


@pytest.mark.timeout(20)
def test_eval_bleu_refuses_a_fifo_and_a_folder(tmp_path, capsys, corpus, fifo):
    pipe = fifo(tmp_path / "hyp.txt")
    one_line_error(main(["eval", "bleu", "--hyp", str(pipe), "--ref", str(corpus)]), capsys, f"hypothesis file {pipe} is a named pipe")
    one_line_error(main(["eval", "bleu", "--hyp", str(corpus), "--ref", str(tmp_path)]), capsys, f"reference file {tmp_path} is a directory")


@pytest.mark.timeout(20)
@pytest.mark.parametrize(
    "replaced, command, fragment",
    [
        ("checkpoints/final.safetensors", ["sample", "{run}"], "checkpoint {path} is a named pipe (FIFO)"),
        ("checkpoints/final.safetensors", ["eval", "{run}", "-n", "4"], "checkpoint {path} is a named pipe (FIFO)"),
        ("checkpoints/latest.safetensors", ["train", "--resume", "{run}", "--quiet"], "checkpoint {path} is a named pipe (FIFO)"),
        ("tokenizer/tokenizer.json", ["sample", "{run}"], "tokenizer file {path} is a named pipe (FIFO)"),
        ("data.safetensors", ["sample", "{run}"], "data.safetensors"),
    ],
)
def test_a_fifo_in_place_of_a_run_file_is_refused_without_blocking(run_copy, capsys, fifo, replaced, command, fragment):
    path = fifo(run_copy / replaced)
    before = tree(run_copy)
    code = main([part.format(run=run_copy) for part in command])
    one_line_error(code, capsys, fragment.format(path=path))
    assert tree(run_copy) == before


@pytest.mark.timeout(20)
def test_load_tensors_refuses_anything_but_a_regular_file(tmp_path, fifo):
    with pytest.raises(CheckpointError, match="is a named pipe"):
        load_tensors(fifo(tmp_path / "x.safetensors"))
    with pytest.raises(CheckpointError, match="is a directory, not a file"):
        load_tensors(tmp_path)
    with pytest.raises(CheckpointError, match="is a character device"):
        load_tensors("/dev/zero")  # would never end
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        load_tensors(tmp_path / "missing.safetensors")


def test_require_regular_file_passes_a_file_and_a_link_to_one(tmp_path):
    target = write_corpus(tmp_path / "c.txt")
    link = tmp_path / "link.txt"
    link.symlink_to(target)
    assert require_regular_file(link, "corpus", "fix") == link
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    with pytest.raises(UserError, match="does not exist"):
        require_regular_file(tmp_path / "dangling", "corpus", "fix")


# ---- 4. messages that name the right thing ----------------------------------------------------


def test_test_file_problems_say_test_file_not_corpus(tmp_path, capsys, corpus):
    missing = tmp_path / "held-out.txt"
    message = train_fails(tmp_path, capsys, ["--corpus", str(corpus), "--test-file", str(missing)], f"test file {missing} does not exist")
    assert "corpus" not in message.split(".")[0]
    binary = tmp_path / "held-out.bin"
    binary.write_bytes(b"ab\x00cd")
    train_fails(tmp_path, capsys, ["--corpus", str(corpus), "--test-file", str(binary)], f"test file {binary} looks binary")


@pytest.mark.parametrize("command", ["sample", "eval"])
@pytest.mark.parametrize("name", ["../x", "a/b", "..\\final"])
def test_a_path_as_checkpoint_name_is_one_line_naming_the_choices(run_dir, capsys, command, name):
    before = tree(run_dir)
    code = main([command, str(run_dir), "--checkpoint", name])  # a ValueError traceback before
    one_line_error(code, capsys, f"--checkpoint {name!r} is not the name of a checkpoint", "Choose one of: final, latest")
    assert tree(run_dir) == before


@pytest.mark.parametrize("temperature", ["inf", "nan", "1e-300"])
def test_sampling_temperatures_that_cannot_sample_are_refused(run_dir, capsys, temperature):
    # 1e-300 overflows logits / T to inf: every draw was silently the last token
    one_line_error(main(["sample", str(run_dir), "--temperature", temperature]), capsys, f"--temperature {float(temperature)}")
    one_line_error(main(["eval", str(run_dir), "--temperature", temperature]), capsys, f"--temperature {float(temperature)}")


def test_sample_escapes_terminal_control_characters(tmp_path, capsys):
    # a corpus holding ESC [2J (clear screen) and the C1 CSI; the generator is made to write them
    corpus = write_corpus(tmp_path / "escapes.txt", ["ab\x1b[2Jcd", "\x9b31mef\tgh"] * 6)
    config = SeqGANConfig(**{**preset_values("tiny"), "corpus": str(corpus), "preset": "tiny"})
    data = prepare_data(config)
    config.max_len = data.max_len
    run = create_run(tmp_path / "run", config, data)
    trainer = build_trainer(config, run, data.tokenizer, data.train, data.test, torch.device("cpu"), quiet=True)
    with torch.no_grad():
        trainer.generator.output.bias.fill_(-50.0)
        for piece in ("\x1b", "\x9b", "\t", "a"):
            trainer.generator.output.bias[data.tokenizer.encode(piece)[0]] = 50.0
    trainer.save("final")
    assert main(["sample", str(run.path), "-n", "20"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x9b" not in out  # nothing reaches the terminal raw
    assert "\\x1b" in out and "\\x9b" in out and "\t" in out and "a" in out
    assert len(out.splitlines()) == 20


def test_printable_escapes_c0_and_c1_controls_but_newline_and_tab():
    controls = [chr(c) for c in (*range(0x20), 0x7F, *range(0x80, 0xA0)) if chr(c) not in "\n\t"]
    assert printable("".join(controls)) == "".join(repr(c)[1:-1] for c in controls)
    assert printable("春眠\n\tnormal text é") == "春眠\n\tnormal text é"
    assert one_line("a\nb\x1b") == "a\\nb\\x1b"  # for messages that must stay one line


# ---- 5. a reward model's scores: cast when finite, one clear error otherwise ------------------


def envs_with(reward_model) -> SeqGANVectorEnv:
    envs = SeqGANVectorEnv(2, vocab_size=6, max_len=2, eos_id=None, rollouts=2, reward_model=reward_model)
    envs.reset(seed=0)
    return envs


def final_scores(envs) -> np.ndarray:
    envs.step(np.array([4, 4]))
    _, rewards, _, _, info = envs.step(np.array([4, 5]))
    return rewards, info


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16, torch.bfloat16])
def test_scores_of_another_float_dtype_are_cast_to_float32(dtype):
    model = CallableReward(lambda t: (t[:, -1] == 5).to(dtype) * 0.75)
    tokens = torch.tensor([[[4, 4], [4, 5]]])
    scores = checked_scores(model, tokens, model.score(tokens), values=True)
    assert scores.dtype == torch.float32 and scores.tolist() == [[0.0, 0.75]]
    rewards, _ = final_scores(envs_with(model))
    assert rewards.tolist() == [0.0, 0.75]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16, torch.bfloat16])
def test_a_discriminator_in_another_dtype_gives_finite_float32_rewards(dtype):
    torch.manual_seed(0)
    d = Discriminator(DiscriminatorConfig(vocab_size=6, max_len=2, filter_sizes=(1, 2), num_filters=(4, 4))).to(dtype)
    for reward in (DiscriminatorReward(d), ProbRealReward(d, log=True)):
        _, info = final_scores(envs_with(reward))
        assert np.isfinite(info["d_score"]).all() and info["d_score"].dtype == np.float32


def test_log_prob_real_of_a_half_precision_model_does_not_become_minus_infinity():
    class Certain:  # prob_real in float16: 1e-9 is 0 there, and log(clamp_min(0, 1e-8)) was -inf
        vocab_size, config = None, None

        def prob_real(self, tokens):
            return torch.zeros(len(tokens), dtype=torch.float16)

    scores = ProbRealReward(Certain(), log=True).score(torch.zeros(1, 3, 2, dtype=torch.long))
    assert scores.dtype == torch.float32 and scores.tolist() == [[pytest.approx(math.log(1e-8))] * 3]


@pytest.mark.parametrize(
    "output, fragment",
    [
        (lambda t: torch.full((len(t),), float("nan")), "returned NaN or infinite scores"),
        (lambda t: torch.full((len(t),), float("inf"), dtype=torch.float16), "returned NaN or infinite scores"),
        (lambda t: torch.full((len(t),), 1e300, dtype=torch.float64), "returned NaN or infinite scores (as float32)"),
        (lambda t: torch.full((len(t),), 0.5, device="meta"), "returned scores on the meta device"),
    ],
)
def test_non_finite_or_meta_scores_are_one_error_naming_the_reward_model(output, fragment):
    with pytest.raises(RewardScoresError) as error:
        final_scores(envs_with(CallableReward(output)))
    assert fragment in str(error.value) and "CallableReward(" in str(error.value)
    assert isinstance(error.value, UserError) and isinstance(error.value, ValueError) and "\n" not in str(error.value)


def test_a_discriminator_on_the_meta_device_is_an_error_not_a_crash():
    with torch.device("meta"):
        d = Discriminator(DiscriminatorConfig(vocab_size=6, max_len=2, filter_sizes=(1,), num_filters=(2,)))
    with pytest.raises(RewardScoresError, match=r"DiscriminatorReward\(Discriminator\) returned scores on the meta device"):
        final_scores(envs_with(DiscriminatorReward(d)))  # RuntimeError from Tensor.item() before


def test_scores_that_turn_nan_after_the_first_call_are_still_an_error():
    calls = []

    def diverging(tokens):  # fine at first, NaN once "training" has diverged
        calls.append(1)
        return torch.full((len(tokens),), 0.5 if len(calls) == 1 else float("nan"))

    envs = envs_with(diverging)
    with pytest.raises(RewardScoresError, match=r"CallableReward\(.*diverging\) returned NaN"):
        for _ in range(4):  # before: only the first scores were checked, later NaN rewards passed
            final_scores(envs)
    assert len(calls) >= 2


@pytest.mark.parametrize("name", ["runcore.files", "runcore.memory", "runcore.printable", "runcore.ranges", "textgan.seqgan.memory"])
def test_doctests_of_the_checking_modules(name):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


# ---- messages at the CLI edge and in imagegan -------------------------------------------------


def test_a_path_holding_a_newline_stays_one_line(tmp_path, capsys):
    code = main(["train", "--resume", str(tmp_path / "no\nsuch")])
    one_line_error(code, capsys, "no\\nsuch does not exist")
    one_line_error(imagegan_main(["sample", str(tmp_path / "no\nsuch")]), capsys, "no\\nsuch does not exist")


@pytest.fixture(scope="module")
def image_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad-inputs-image") / "run"
    args = ["train", "--data", "shapes", "--image-size", "16", "--model", "dcgan", "--limit", "8", "--batch-size", "4",
            "--width", "4", "--steps", "1", "--quiet", "--out", str(folder)]  # fmt: skip
    assert imagegan_main(args) == 0
    return folder


@pytest.mark.parametrize("command", ["sample", "eval"])
def test_imagegan_checkpoint_paths_and_huge_seeds_are_one_line(image_run, capsys, command):
    before = tree(image_run)
    code = imagegan_main([command, str(image_run), "--checkpoint", "../x"])  # a ValueError traceback before
    one_line_error(code, capsys, "--checkpoint '../x' is not the name of a checkpoint", "Choose one of: final, latest")
    one_line_error(imagegan_main([command, str(image_run), "--checkpoint", "gone"]), capsys, "no checkpoint 'gone'")
    one_line_error(imagegan_main([command, str(image_run), "--seed", str(2**70)]), capsys, "--seed")
    assert tree(image_run) == before


@pytest.mark.timeout(20)
def test_a_fifo_in_place_of_config_json_is_named_as_such(run_copy, fifo, capsys):
    (run_copy / "config.json").unlink()
    fifo(run_copy / "config.json")
    one_line_error(main(["sample", str(run_copy)]), capsys, "config.json is a named pipe (FIFO), not a file")
