"""benchmarks/seqgan_units.py runs (--quick, shape only); its FLOP counts match hand counts and the code;
benchmarks/leakgan_features.py runs at small sizes; benchmarks/coco_word_units.py counts unknown words as a
hand count does and its BLEU rows are nltk's."""

from __future__ import annotations

import importlib.util
import json
import os
import pathlib
import subprocess
import sys

import pytest
import torch
from gymnasium.vector import AutoresetMode
from torch.utils.flop_counter import FlopCounterMode

from textgan.agents import ReinforceAgent
from textgan.env.vector_env import SeqGANVectorEnv
from textgan.models import Discriminator, DiscriminatorConfig, Generator, GeneratorConfig
from textgan.models.discriminator import PAPER_FILTER_SIZES, PAPER_NUM_FILTERS

REPO = pathlib.Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("benchmark_flops", REPO / "benchmarks" / "flops.py")
flops = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(flops)

UNITS = {"g_update", "sample_10k", "mle_epoch", "d_epoch", "d_eval", "schedule"}


def test_quick_run_writes_every_unit(tmp_path):
    out = tmp_path / "units.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "seqgan_units.py"), "--quick", "--device", "cpu", "--json", str(out)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    record = json.loads(out.read_text())
    assert set(record["units"]) == UNITS
    for name, unit in record["units"].items():
        assert unit["seconds"] > 0 and unit["flops"] > 0 and unit["gflops"] > 0, name
        assert unit["pct_fp32_peak"] > 0, name
        assert "anchor_seconds" not in unit  # no --anchor, no anchor column
    assert record["peak_gflops"]["fp32"] > 0 and record["peak_gflops"]["bf16"] > 0
    readings = record["fp32_peak_readings_gflops"]  # before and after the units, the higher kept
    assert len(readings) == 2 and record["peak_gflops"]["fp32"] == max(readings)
    assert record["anchor"] is None and record["quick"] and record["threads"] == 1
    assert record["device"] == "cpu" and record["torch"] == torch.__version__ and record["cpu"]
    assert "schedule" in result.stdout


def test_d_precision_sets_ds_precision_alone(monkeypatch):
    """``--d-precision bf16`` times what ``textgan train --d-precision bf16`` runs: D built at bf16, G not under autocast."""
    import benchmarks.seqgan_units as units

    built, wrapped = [], []
    real_discriminator = units.Discriminator
    monkeypatch.setattr(units, "Discriminator", lambda config: built.append(config.precision) or real_discriminator(config))
    monkeypatch.setattr(units, "forwards_in_bf16", lambda obj, names, device: wrapped.append(type(obj).__name__))
    seconds, _ = units.run_units(units.QUICK, torch.device("cpu"), 1, "fp32", "bf16")
    assert built == ["bf16"] and wrapped == [] and seconds["d_epoch"] > 0
    built.clear()
    units.run_units(units.QUICK, torch.device("cpu"), 1, "bf16")  # --precision alone sets both
    assert built == ["bf16"] and "Generator" in wrapped


def test_heap_faults_benchmark_measures_both_allocator_settings(tmp_path):
    out = tmp_path / "faults.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "heap_faults.py"), "--pairs", "1", "--warmup", "1", "--steps", "2", "--json", str(out)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    runs = json.loads(out.read_text())
    assert [row["retained"] for row in runs["default"]] == [False]
    assert [row["retained"] for row in runs["retained"]] == [sys.platform.startswith("linux")]
    for row in runs["default"] + runs["retained"]:
        assert row["faults"] >= 0 and row["wall_ms"] > 0 and row["user_ms"] >= 0
    assert [line.split()[0] for line in result.stdout.splitlines()[1:]] == ["default", "retained"]


def test_leakgan_features_benchmark_runs_at_small_sizes(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    args = ["--vocab", "40", "--max-len", "20", "--batch", "4", "--samples", "8", "--repeats", "1"]
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "leakgan_features.py"), *args],
        capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("features of every prefix, batch 4 x 20:") and len(lines) == 6
    assert sum("LeakGAN MLE step" in line for line in lines) == 2 and sum("LeakGAN sampling 8" in line for line in lines) == 2


def test_coco_word_units_counts_as_a_hand_count_and_scores_as_nltk(tmp_path):
    spec = importlib.util.spec_from_file_location("coco_word_units", REPO / "benchmarks" / "coco_word_units.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    train, test = ["a cat sat.", "the dog ran"], ["a dog sat.", "the bird, sat"]
    spaces = module.unknown_words(train, test, str.split)  # unknown: "bird," and "sat" (the vocabulary has "sat.")
    assert spaces == {"vocabulary": 6, "test_tokens": 6, "unknown_share": 2 / 6, "captions_with_unknown": 0.5,
                      "longest_training_caption": 3}  # fmt: skip
    split = module.unknown_words(train, test, module.treebank_words)  # unknown: "bird" and ","
    assert split == {"vocabulary": 7, "test_tokens": 8, "unknown_share": 2 / 8, "captions_with_unknown": 0.5,
                     "longest_training_caption": 4}  # fmt: skip
    (tmp_path / "train.txt").write_text("\n".join(train) + "\n")
    (tmp_path / "test.txt").write_text("\n".join(test) + "\n")
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

    rows = module.bleu_rows(train, test, str.split, orders=(2, 3))
    for n in (2, 3):
        weights, smooth = (1 / n,) * n, SmoothingFunction().method1
        nltk_bleu = sum(sentence_bleu([t.split() for t in test], h.split(), weights, smoothing_function=smooth) for h in train) / 2
        nltk_self = sum(sentence_bleu([test[1 - i].split()], test[i].split(), weights, smoothing_function=smooth) for i in (0, 1)) / 2
        assert rows["bleu_train_vs_test"][n] == pytest.approx(nltk_bleu) and rows["self_bleu_test"][n] == pytest.approx(nltk_self)
    result = subprocess.run([sys.executable, str(REPO / "benchmarks" / "coco_word_units.py"), "--train", str(tmp_path / "train.txt"),
                             "--test", str(tmp_path / "test.txt")], capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[1:3] == ["whitespace | 6 | 6 | 33.33% | 50.0% | 3", "treebank | 7 | 8 | 25.00% | 50.0% | 4"]
    assert lines[3].startswith("split | BLEU") and [line.split(" | ")[0] for line in lines[4:]] == ["whitespace", "treebank"]


def test_discriminator_hand_count():
    # one width-2 filter with 4 maps over 3 channels at 5 - 2 + 1 = 4 positions: 4*3*2*4 = 96;
    # highway 2 * 4*4 = 32; output 4; the width-9 filter cannot fit T=5 and is left out
    config = DiscriminatorConfig(vocab_size=7, max_len=5, embed_dim=3, filter_sizes=(2, 9), num_filters=(4, 8))
    assert flops.discriminator_macs(config) == 96 + 32 + 4
    assert flops.d_eval_flops(config, 10) == 2 * 10 * 132
    assert flops.d_epoch_flops(config, 10) == 3 * 2 * 10 * 132
    # the paper's D: convolutions 64 * 118,600 (sum of n*w*(21-w)), highway 2 * 1720², output 1720
    paper = DiscriminatorConfig(vocab_size=5000, max_len=20, filter_sizes=PAPER_FILTER_SIZES, num_filters=PAPER_NUM_FILTERS)
    assert flops.discriminator_macs(paper) == 64 * 118_600 + 2 * 1720**2 + 1720 == 13_508_920


def test_generator_hand_count():
    g = GeneratorConfig(vocab_size=10, embed_dim=3, hidden_dim=2)
    assert flops.lstm_cell_macs(g) == 4 * 2 * (3 + 2) == 40
    assert flops.projection_macs(g) == 20
    assert flops.sample_flops(g, n=5, max_len=4) == 2 * 5 * 4 * 60
    assert flops.mle_epoch_flops(g, n=5, max_len=4) == 3 * 2 * 5 * 4 * 60


def test_g_update_hand_count():
    # B=1, T=3, K=2; cell 40, projection 20, D 132 MACs
    g = GeneratorConfig(vocab_size=10, embed_dim=3, hidden_dim=2)
    d = DiscriminatorConfig(vocab_size=10, max_len=3, embed_dim=3, filter_sizes=(2,), num_filters=(4,))
    d_macs = 4 * 3 * 2 * 2 + 2 * 16 + 4  # = 84
    policy = 3 * 3 * 60 - 4 * 2 * 2  # 3 steps trained, less the gradient into the zero initial state
    env = 2 * 40 + 2 * 40  # rollout policy reads tokens 1 and 2, and BOS at the reset and the autoreset
    search = 2 * ((2 * 20 + 1 * 40) + (1 * 20))  # after token 1: 2 samples, 1 cell; after token 2: 1 sample
    scored = 2 * 2 + 1  # K completions after tokens 1 and 2, and the finished sequence
    assert flops.g_update_flops(g, d, batch=1, max_len=3, rollouts=2) == 2 * (policy + env + search + scored * d_macs)


def test_counts_match_what_the_code_runs():
    """torch's FLOP counter on the real units agrees (D's own cost counted, whatever its kernels)."""
    torch.manual_seed(0)
    g = GeneratorConfig(vocab_size=11, embed_dim=4, hidden_dim=6, bos_id=0, eos_id=None)
    d = DiscriminatorConfig(vocab_size=11, max_len=5, embed_dim=3, filter_sizes=(1, 2), num_filters=(4, 5))
    generator, discriminator = Generator(g), Discriminator(d)
    envs = SeqGANVectorEnv(
        num_envs=3, vocab_size=11, max_len=5, rollouts=2, bos_id=0, eos_id=None,
        autoreset_mode=AutoresetMode.SAME_STEP, tensors=True,
    )  # fmt: skip
    envs.set_discriminator(discriminator)
    envs.sync_rollout_policy(generator, 0.0)
    agent = ReinforceAgent(generator)

    def counted(fn) -> int:
        with FlopCounterMode(display=False) as counter:
            fn()
        return counter.get_total_flops()

    rng = torch.Generator().manual_seed(0)
    assert counted(lambda: generator.sample(7, 5, generator=rng)) == flops.sample_flops(g, 7, 5)
    d_forward = counted(lambda: discriminator.prob_real(torch.zeros(1, 5, dtype=torch.long)))
    scored = 3 * 2 * 4 + 3
    expected = flops.g_update_flops(g, d, batch=3, max_len=5, rollouts=2) - scored * 2 * flops.discriminator_macs(d)
    assert counted(lambda: agent.update(envs)) - scored * d_forward == expected


def test_paper_schedule():
    units = dict.fromkeys(("mle_epoch", "sample_10k", "d_epoch", "d_eval", "g_update"), 1.0)
    assert flops.paper_schedule(units) == 120 + 50 * 5 + 200 * (1 + 5 * 5)
    assert flops.paper_schedule(units, d_eval=False) == 120 + 50 * 4 + 200 * (1 + 5 * 4)


ORACLE_NPZ = REPO.parent / "shared" / "data" / "oracle" / "seqgan_oracle_lstm.npz"


@pytest.mark.skipif(not ORACLE_NPZ.is_file(), reason="needs ../shared/data/oracle")
def test_gpu_script_stops_at_its_deadline_and_says_how_far_it_got(tmp_path):
    """benchmarks/gpu_seqgan.sh on the CPU with a deadline too short for the experiment: the part
    cut short is recorded (timeout's 124), the next is skipped, and summary.json says how far each
    sub-run that had started got."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OUT": str(tmp_path / "out"), "RUNS": str(tmp_path / "runs"),
           "DEVICE": "cpu", "SMOKE": "1", "UNITS_S": "0", "DEADLINE": "30", "PYTHON": sys.executable}
    result = subprocess.run(["bash", str(REPO / "benchmarks" / "gpu_seqgan.sh")], capture_output=True, text=True,
                            timeout=120, env=env)  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["exit"] == {"units_fp32": "not run", "units_bf16": "not run", "one_seed": "124", "three_seeds": "skipped", "leakgan": "not run"}
    seed = summary["seeds"]["seed-0"]
    assert seed["finished"] is False and summary["results"] is None
    assert set(seed["last_logged"]) <= {"pretrain", "mle", "seqgan", "constant"}
    assert all(v is None or v["phase"] == "mle" for v in seed["last_logged"].values())  # no further in 15 s


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_d_step_gemms_finds_every_product_of_the_step_in_the_profile(tmp_path, precision):
    from benchmarks import d_step_gemms
    from benchmarks.flops import TRAIN

    result = d_step_gemms.main(["--quick", "--precision", precision, "--json", str(tmp_path / "gemms.json")])
    assert result["precision"] == precision
    assert json.loads((tmp_path / "gemms.json").read_text()) == result
    parts = result["parts"]
    assert list(parts) == list(d_step_gemms.PARTS)
    # each product the script times alone was found in the step's profile under its shapes, as
    # often as the step runs it (the quick D's filters of widths 2 and 3 have more windows than
    # taps, the one of width 6 fewer: both forms of the input gradient)
    assert all(row["in_step_ms"] > 0 and row["alone_ms"] > 0 for row in parts.values())
    assert {part: row["calls_in_step"] for part, row in parts.items()} == {part: row["products"] for part, row in parts.items()}
    assert parts["conv input grad"]["products"] == 2 + 3 + 1
    # the products are the step's FLOPs less the output layer's F x 1 (F = 24 maps, batch 8)
    output_layer = TRAIN * 2 * 24 * result["batch"]
    assert round(sum(row["gflop"] for row in parts.values()) * 1e9) == round(result["step_gflop"] * 1e9) - output_layer
    assert 0 < result["ceiling_in_step"] and 0 < result["ceiling_alone"] and result["step_share_of_peak"] > 0


def test_windows_backward_times_both_paths_after_checking_they_agree(tmp_path):
    from benchmarks import windows_backward

    result = windows_backward.main(["--quick", "--json", str(tmp_path / "windows.json")])
    assert json.loads((tmp_path / "windows.json").read_text()) == result
    assert result["steps_each"] == 3 and result["own_backward_ms"] > 0 and result["autograd_ms"] > 0
    assert 0 < result["largest_gradient_difference"] < 1e-4  # the same gradients to float rounding, not bit for bit
    assert windows_backward.discriminator.window_maxes is not windows_backward.autograd_window_maxes  # put back


def test_filter_layout_times_both_layouts_of_the_same_weights(tmp_path):
    from benchmarks import filter_layout

    ds = filter_layout.discriminators(DiscriminatorConfig(vocab_size=20, max_len=6, filter_sizes=(2, 3), num_filters=(4, 4)))
    taps, contiguous = (ds[name] for name in filter_layout.LAYOUTS)
    assert all(torch.equal(a, b) for a, b in zip(taps.parameters(), contiguous.parameters()))
    assert [conv.weight.is_contiguous() for conv in contiguous.convs] == [True, True]
    assert [conv.weight.is_contiguous() for conv in taps.convs] == [False, False]
    result = filter_layout.main(["--quick", "--json", str(tmp_path / "layout.json")])
    assert json.loads((tmp_path / "layout.json").read_text()) == result
    assert result["same_parameters_after_three_steps"] is True and result["largest_score_difference"] < 1e-6
    assert set(result["train_step_ms"]) == set(filter_layout.LAYOUTS) and all(ms > 0 for ms in result["train_step_ms"].values())


def test_d_step_ab_times_two_revisions_of_ds_module_side_by_side(capsys):
    if subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True).returncode != 0:
        pytest.skip("needs the repository's git history")
    import benchmarks.d_step_ab as ab

    result = ab.main(["--quick", "--before", "HEAD", "--after", "HEAD"])
    assert result["largest_parameter_difference"] == 0.0  # one revision twice: the same steps
    assert set(result["train_step_ms"]) == {"before", "after"} and min(result["train_step_ms"].values()) > 0
    assert "the same bit for bit" in capsys.readouterr().out
    with pytest.raises(SystemExit) as stopped:
        ab.main(["--quick", "--before", "no-such-revision"])
    assert stopped.value.code == 2 and "name a commit of this repository" in capsys.readouterr().err


def test_denormals_times_each_mode_in_a_process_of_its_own(capsys, tmp_path):
    import benchmarks.denormals as den

    result = den.main(["--quick", "--json", str(tmp_path / "denormals.json")])
    assert json.loads((tmp_path / "denormals.json").read_text()) == json.loads(json.dumps(result))
    assert result["off"]["flushing"] is False and result["on"]["flushing"] == torch.set_flush_denormal(True)
    assert result["off"]["denormal_at_start"] == 0  # a fresh D
    assert all(result[mode][key] > 0 for mode in den.MODES for key in ("adam_ms", "d_step_ms"))
    assert "fused Adam, gradients x 1e-20" in capsys.readouterr().out
    with pytest.raises(SystemExit) as stopped:
        den.main(["--quick", "--checkpoint", str(tmp_path / "missing.safetensors")])
    assert stopped.value.code == 2 and "give a run's checkpoints/latest.safetensors" in capsys.readouterr().err
