"""``textgan eval RUN [RUN ...] --temperatures``: the points, the PNG, the dominated runs, the
matched temperature, and one-line errors that write nothing."""

from __future__ import annotations

import dataclasses
import doctest
import itertools
import json
import math
import shutil

import pytest
import torch

from runcore import RunDir, load_tensors, plot_panels, save_modules, save_tensors, write_json_atomic
from textgan.cli import main
from textgan.commands import eval_runs
from textgan.commands.experiment import OracleExperiment, OracleTokens, seed_data
from textgan.gans import build_trainer
from textgan.metrics import nll_test
from textgan.metrics.pareto import dominated_models
from textgan.models.oracle import Oracle
from textgan.seqgan.config import SeqGANConfig, preset_values
from textgan.seqgan.prepare import prepare_data
from textgan.seqgan.runs import DATA_FILE, create_run, open_run, run_generator
from textgan.seqgan.trainer import build_generator

SCALE = 1.25  # the final checkpoint's logits are the pre-trained one's times this: itself at temperature 0.8
TEMPERATURES = ("0.8", "1.0", "1.25")
POINT_KEYS = {"temperature", "nll_test", "bleu", "self_bleu", "ms_jaccard", "distinct", "lm_score", "reverse_lm_score", "frechet_distance"}


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    yield


def make_run(folder, words: str, seed: int = 0):
    corpus = folder / "corpus.txt"
    rng = torch.Generator().manual_seed(seed)
    vocabulary = words.split()
    lines = [" ".join(vocabulary[i] for i in torch.randint(0, len(vocabulary), (int(n),), generator=rng))
             for n in torch.randint(3, 8, (60,), generator=rng)]  # fmt: skip
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = SeqGANConfig(**{**preset_values("tiny"), "corpus": str(corpus), "tokenizer": "word", "test_fraction": 0.25, "preset": "tiny"})
    data = prepare_data(config)
    config.max_len = data.max_len
    run = create_run(folder / "run", config, data)
    return run, build_trainer(config, run, data.tokenizer, data.train, data.test, torch.device("cpu"), quiet=True)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One run with two checkpoints: ``after-mle`` (an untrained generator) and ``final`` (the same
    with its logits scaled by SCALE), and a run of another corpus."""
    run, trainer = make_run(tmp_path_factory.mktemp("compare"), "the a cat dog sat ran on under mat log")
    torch.manual_seed(0)
    with torch.no_grad():  # a generator far from uniform, so that temperature matters
        trainer.generator.output.weight.normal_(0, 1.5)
    trainer.save("after-mle")
    with torch.no_grad():
        trainer.generator.output.weight.mul_(SCALE)
        trainer.generator.output.bias.mul_(SCALE)
    trainer.save("final")
    other, _ = make_run(tmp_path_factory.mktemp("other"), "one two three four five six seven", seed=1)
    return run.path, trainer, other.path


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def naive_dominated(points: dict[str, list[tuple[float, float]]], higher: tuple[bool, bool]) -> dict[str, list[str]]:
    """Every point of a model against every point of every other model, in plain Python."""
    def better_or_equal(a, b, up):
        return a >= b if up else a <= b

    def strictly(a, b, up):
        return a > b if up else a < b

    def beats(p, q):
        if any(math.isnan(v) for v in (*p, *q)):
            return False
        return all(better_or_equal(p[i], q[i], higher[i]) for i in (0, 1)) and any(strictly(p[i], q[i], higher[i]) for i in (0, 1))

    result = {}
    for name, own in points.items():
        own = [p for p in own if not any(math.isnan(v) for v in p)]
        others = [other for other in points if other != name]
        if own and all(any(beats(q, p) for other in others for q in points[other]) for p in own):
            result[name] = [other for other in others if any(beats(q, p) for q in points[other] for p in own)]
    return result


def test_dominated_models_equal_the_naive_computation():
    # hand-made cases: a copy dominates nothing; behind a segment is not behind a point; ties
    higher = (False, True)  # e.g. Self-BLEU (lower is better), BLEU (higher is better)
    assert dominated_models({"a": [(0.2, 0.5), (0.4, 0.7)], "b": [(0.2, 0.5), (0.4, 0.7)]}, higher) == {}
    assert dominated_models({"a": [(0.2, 0.5), (0.4, 0.7)], "b": [(0.3, 0.55)]}, higher) == {}  # below the segment only
    assert dominated_models({"a": [(0.2, 0.5), (0.4, 0.7)], "b": [(0.2, 0.4), (0.4, 0.6)]}, higher) == {"b": ["a"]}  # a tie on one axis, behind on the other
    assert dominated_models({"a": [(0.2, 0.5), (0.4, 0.7)], "b": [(0.2, 0.4), (0.4, 0.7)]}, higher) == {}  # one point tied: not dominated
    assert dominated_models({"a": [(0.2, 0.5)], "b": [(0.5, 0.9)], "c": [(0.2, 0.4), (0.6, 0.8)]}, higher) == {"c": ["a", "b"]}
    assert dominated_models({"a": [(0.2, 0.5)], "b": [(math.nan, 0.1)]}, higher) == {}
    # random small-integer points: many ties on one axis or both
    rng = torch.Generator().manual_seed(0)
    found = 0
    for trial in range(300):
        models = int(torch.randint(2, 5, (), generator=rng))
        points = {f"m{i}": [tuple(float(v) for v in torch.randint(0, 4, (2,), generator=rng))
                            for _ in range(int(torch.randint(1, 4, (), generator=rng)))] for i in range(models)}  # fmt: skip
        if trial % 10 == 0:
            points["m0"][0] = (math.nan, 1.0)
        for higher in itertools.product((False, True), repeat=2):
            expected = naive_dominated(points, higher)
            assert dominated_models(points, higher) == expected, (points, higher)
            found += len(expected)
    assert found > 100  # the random cases hold dominated models, not only empty answers


def test_compare_runs_json_png_dominance_and_matched_temperature(runs, tmp_path, capsys):
    path, trainer, _ = runs
    plot = tmp_path / "compare.png"
    first, second = f"{path}@after-mle", str(path)
    code, out, _ = run_cli(capsys, "eval", first, second, "-n", 30, "--n", 1, 2, "--temperatures", *TEMPERATURES, "--plot", plot, "--json")
    assert code == 0
    result = json.loads(out)
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and result["plot"] == str(plot)
    assert not (path / "plots" / "quality_diversity.png").exists()  # --plot replaces the default
    assert [entry["run"] for entry in result["runs"]] == [first, second]
    assert [entry["checkpoint"] for entry in result["runs"]] == ["after-mle", "final"]
    assert result["temperatures"] == [0.8, 1.0, 1.25] and result["samples"] == 30 and result["references"] == len(trainer.test_tokens)

    generators = {first: run_generator(open_run(path), "after-mle")[0], second: trainer.generator}
    for entry in result["runs"]:
        assert [point["temperature"] for point in entry["points"]] == [0.8, 1.0, 1.25]
        for point in entry["points"]:
            assert POINT_KEYS <= set(point)
            for key in ("bleu", "self_bleu", "ms_jaccard", "distinct"):
                assert set(point[key]) == {"1", "2"} and all(math.isfinite(v) for v in point[key].values())
            assert all(math.isfinite(point[key]) for key in ("lm_score", "reverse_lm_score", "frechet_distance"))
            expected = nll_test(generators[entry["run"]], trainer.test_tokens, temperature=point["temperature"])
            torch.testing.assert_close(point["nll_test"], expected, rtol=0, atol=1e-9)
    # the final checkpoint at T is the pre-trained one at 0.8 T: NLL-test of the same model
    torch.testing.assert_close(result["runs"][1]["points"][1]["nll_test"], result["runs"][0]["points"][0]["nll_test"], rtol=0, atol=1e-5)

    # the dominated runs of each pair, from the JSON's own points by the naive computation
    assert [pair["name"] for pair in result["pairs"]] == ["BLEU-2 vs Self-BLEU-2", "LM score vs reverse-LM score", "LM score vs NLL-test"]
    for pair in result["pairs"]:
        points = {}
        for entry in result["runs"]:
            flat = [{**p, **{f"{k}_{n}": v for k in ("bleu", "self_bleu") for n, v in p[k].items()}} for p in entry["points"]]
            points[entry["run"]] = [(p[pair["x"]], p[pair["y"]]) for p in flat]
        assert pair["dominated"] == naive_dominated(points, (pair["x_higher_is_better"], pair["y_higher_is_better"]))

    # Caccia et al.: the baseline's temperature with the other run's NLL-test at T=1, here 1 / SCALE
    (matched,) = result["matched"]
    target = nll_test(trainer.generator, trainer.test_tokens)
    assert matched["baseline"] == first and matched["run"] == second
    torch.testing.assert_close(matched["target_nll_test"], target, rtol=0, atol=1e-9)
    torch.testing.assert_close(nll_test(generators[first], trainer.test_tokens, temperature=matched["temperature"]), target, rtol=0, atol=1e-5)
    torch.testing.assert_close(matched["temperature"], 1 / SCALE, rtol=0, atol=1e-3)
    assert POINT_KEYS <= set(matched["point"])
    torch.testing.assert_close(matched["point"]["nll_test"], target, rtol=0, atol=1e-5)

    # a point is what 'textgan eval RUN' gives at that temperature: the same samples, references and
    # models (its NLL-test is the untempered model's; a point's, the tempered one's, checked above)
    code, out, _ = run_cli(capsys, "eval", path, "--checkpoint", "after-mle", "-n", 30, "--n", 1, 2, "--temperature", 1.25, "--json")
    alone, point = json.loads(out), result["runs"][0]["points"][2]
    assert code == 0 and alone["temperature"] == 1.25
    for key in ("bleu", "self_bleu", "ms_jaccard", "distinct", "lm_score", "reverse_lm_score", "frechet_distance"):
        assert alone[key] == point[key], key


def test_compare_runs_table_and_default_plot(runs, capsys, monkeypatch):
    path, *_ = runs
    monkeypatch.chdir(path.parent)  # runs named relative to the working directory
    code, out, _ = run_cli(capsys, "eval", "run@after-mle", "run", "-n", 20, "--temperatures", "0.9", "1.1")
    assert code == 0
    assert "run@after-mle (checkpoint after-mle)" in out and "run (checkpoint final)" in out and "T=0.9" in out
    assert "reverse-LM score" in out and "at matched temperatures" in out and "dominated in BLEU-5 vs Self-BLEU-5:" in out
    assert "plot: run/plots/quality_diversity.png" in out and (path / "plots" / "quality_diversity.png").read_bytes()[:4] == b"\x89PNG"


def files_under(folder) -> dict:
    return {p: p.stat().st_mtime_ns for p in folder.rglob("*")}


@pytest.mark.parametrize(
    "argv, message",
    [
        (["{run}@", "{run}", "--temperatures", "1"], "is not RUN_DIR or RUN_DIR@CHECKPOINT"),
        (["@final", "{run}", "--temperatures", "1"], "is not RUN_DIR or RUN_DIR@CHECKPOINT"),
        (["{run}@nope", "{run}", "--temperatures", "1"], "no checkpoint 'nope'"),
        (["{run}", "{other}", "--temperatures", "1"], "have different tokenizers"),
        (["{run}", "--temperatures", "0.8", "0"], "--temperatures 0.0 must be"),
        (["{run}", "--temperatures", "-1"], "--temperatures -1.0 must be"),
        (["{run}", "--temperatures", "1", "--plot", "{tmp}/x.jpg"], "does not end in .png"),
        (["{run}", "{run}", "--temperatures", "1"], "is given twice"),
        (["{run}", "{run}@after-mle", "--checkpoint", "final"], "RUN_DIR@CHECKPOINT"),
        (["{run}", "--temperatures", "1", "--temperature", "0.9"], "--temperature and --temperatures both given"),
        (["{run}", "--plot", "{tmp}/x.png"], "--plot draws a comparison"),
        (["{run}@final", "--checkpoint", "final"], "names a checkpoint and so does --checkpoint"),
        (["bleu", "{run}"], "'eval bleu' takes no runs"),
    ],
)
def test_compare_bad_input_is_one_line_and_writes_nothing(runs, tmp_path, capsys, argv, message):
    path, _, other = runs
    before, before_other = files_under(path), files_under(other)
    code, out, err = run_cli(capsys, "eval", *(a.format(run=path, other=other, tmp=tmp_path) for a in argv))
    assert code == 2 and out == "" and err.count("\n") == 1 and err.startswith("error: ") and message in err, err
    assert files_under(path) == before and files_under(other) == before_other and list(tmp_path.iterdir()) == []


def test_a_different_test_split_is_refused(runs, tmp_path, capsys):
    path, _, _ = runs
    moved = tmp_path / "moved"
    shutil.copytree(path, moved)
    tensors, metadata = load_tensors(moved / DATA_FILE)
    save_tensors(moved / DATA_FILE, {**tensors, "test": tensors["test"].flip(0)}, metadata)  # the same lines, another order
    code, out, err = run_cli(capsys, "eval", path, moved, "--temperatures", "1")
    assert code == 2 and out == "" and err.count("\n") == 1 and "have different test splits" in err, err


def test_oracle_experiment_runs_compare_with_nll_oracle(tmp_path, capsys):
    """A folder laid out as ``textgan experiment oracle`` writes it (experiment.json, oracle.npz,
    seed-S/NAME run directories with config and checkpoints, no tokenizer or data)."""
    experiment = OracleExperiment(seeds=(0,), preset="small", num_train=40, num_test=12, overrides=dict(g_embed_dim=8, g_hidden_dim=8))
    oracle = Oracle.random(seed=0, vocab_size=30, dim=6, seq_len=8)
    out = tmp_path / "exp"
    out.mkdir()
    write_json_atomic(out / "experiment.json", experiment.settings())
    oracle.save(out / "oracle.npz")
    config = dataclasses.replace(experiment.seqgan_config(0), max_len=oracle.seq_len)
    generators = {}
    for index, name in enumerate(("pretrain", "seqgan")):
        run = RunDir.create(out / "seed-0" / name)
        run.write_config(config.to_dict())
        torch.manual_seed(index)
        generators[name] = build_generator(config, OracleTokens(oracle.vocab_size))
        save_modules(run.checkpoint_path("after-mle" if name == "pretrain" else "final"), {"generator": generators[name]})
        run.unlock()
    first, second = out / "seed-0" / "pretrain@after-mle", out / "seed-0" / "seqgan"
    code, out_text, err = run_cli(capsys, "eval", first, second, "-n", 24, "--temperatures", "0.9", "1.1", "--json")
    assert code == 0, err
    result = json.loads(out_text)
    assert result["unit"] == "token" and result["pairs"][0]["name"] == "NLL-oracle vs NLL-test"
    _, test, _ = seed_data(experiment, oracle, 0)
    assert result["references"] == len(test)
    for entry, generator in zip(result["runs"], generators.values()):
        for point in entry["points"]:
            samples = generator.sample(24, oracle.seq_len, generator=torch.Generator().manual_seed(0), temperature=point["temperature"])
            torch.testing.assert_close(point["nll_oracle"], oracle.nll(samples), rtol=0, atol=1e-9)
            torch.testing.assert_close(point["nll_test"], nll_test(generator, test, temperature=point["temperature"]), rtol=0, atol=1e-9)
    (matched,) = result["matched"]  # the baseline sampled at the matched temperature, NLL-oracle included
    samples = generators["pretrain"].sample(24, oracle.seq_len, generator=torch.Generator().manual_seed(0), temperature=matched["temperature"])
    torch.testing.assert_close(matched["point"]["nll_oracle"], oracle.nll(samples), rtol=0, atol=1e-9)
    torch.testing.assert_close(matched["point"]["nll_test"], nll_test(generators["seqgan"], test), rtol=0, atol=1e-5)
    # one oracle run alone is the comparison of one run at temperature 1 (textgan eval RUN cannot open it)
    code, out_text, _ = run_cli(capsys, "eval", second, "-n", 24, "--json")
    (alone,) = json.loads(out_text)["runs"]
    samples = generators["seqgan"].sample(24, oracle.seq_len, generator=torch.Generator().manual_seed(0))
    assert code == 0 and alone["points"][0]["temperature"] == 1.0
    torch.testing.assert_close(alone["points"][0]["nll_oracle"], oracle.nll(samples), rtol=0, atol=1e-9)


def test_one_run_named_with_its_checkpoint_and_one_run_over_temperatures(runs, capsys):
    path, *_ = runs
    code, out, _ = run_cli(capsys, "eval", f"{path}@after-mle", "-n", 10, "--n", 2, "--json")
    named = json.loads(out)
    code_flag, out, _ = run_cli(capsys, "eval", path, "--checkpoint", "after-mle", "-n", 10, "--n", 2, "--json")
    flagged = json.loads(out)
    assert code == code_flag == 0 and named["checkpoint"] == "after-mle" and named["temperature"] == 1.0
    for key in ("nll_test", "bleu", "self_bleu", "lm_score", "reverse_lm_score", "frechet_distance"):
        assert named[key] == flagged[key], key
    code, out, _ = run_cli(capsys, "eval", path, "-n", 10, "--n", 2, "--temperatures", "1.0", "--json")
    alone = json.loads(out)
    assert code == 0 and len(alone["runs"]) == 1 and "matched" not in alone
    assert all(pair["dominated"] == {} for pair in alone["pairs"])  # nothing to be beaten by


def test_plot_panels_writes_one_png_of_all_panels(tmp_path):
    from PIL import Image

    panel = {"xlabel": "Self-BLEU-5", "ylabel": "BLEU-5", "title": "dominated: none",
             "series": {"mle": ([0.2, 0.3, math.nan], [0.5, 0.6, 0.7]), "gan": ([0.25], [0.55])},
             "point_labels": {"mle": ["T=0.8", "T=1", "T=1.2"]}}  # fmt: skip
    two = plot_panels([panel, panel], tmp_path / "two.png")
    three = plot_panels([panel] * 3, tmp_path / "three.png", columns=3)
    with Image.open(two) as a, Image.open(three) as b:
        assert a.format == b.format == "PNG" and b.size[0] > a.size[0] and b.size[1] == a.size[1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["three.png", "two.png"]  # no temporary files left
    with pytest.raises(ValueError, match="2 x values but 1 y"):
        plot_panels([{**panel, "series": {"bad": ([0, 1], [1.0])}}], tmp_path / "bad.png")


def test_long_run_paths_neither_collapse_the_plot_nor_crowd_its_labels(tmp_path):
    """Absolute run paths as legend labels and in a 'dominated' title squeezed constrained layout's
    axes to nothing (matplotlib warns and draws them at zero size): titles and labels now wrap, and
    a comparison labels its runs by what tells them apart."""
    import warnings

    long = f"{tmp_path}/a-folder-name-as-long-as-pytest-makes-them/exp/seed-0/"
    runs = [long + "pretrain@after-mle", long + "seqgan"]
    panel = {"xlabel": "NLL-test", "ylabel": "NLL-oracle", "title": f"NLL-oracle vs NLL-test: dominated: {', '.join(runs)}",
             "series": {run: ([1.0, 2.0], [3.0, 4.0]) for run in runs}, "point_labels": {run: ["T=0.9", "T=1.1"] for run in runs}}  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plot_panels([panel, panel], tmp_path / "long.png", title="24 samples per temperature (seed 0) vs 12 test sequences")
    assert eval_runs.short_names(runs) == {runs[0]: "pretrain@after-mle", runs[1]: "seqgan"}
    assert eval_runs.short_names(["runs/a/", "runs/b/x"]) == {"runs/a/": "a", "runs/b/x": "b/x"}
    assert eval_runs.short_names(["only"]) == {"only": "only"}
    assert doctest.testmod(eval_runs).failed == 0
