"""StackGAN: two stages, the text encoder, conditioning KL and mismatched pairs by hand."""

import copy
import math

import pytest
import torch
import torch.nn.functional as F
from torch.testing import assert_close

from imagegan.losses import NonSaturating
from imagegan.data import load_dataset
from imagegan.models import GANSpec, build_model
from imagegan.models.base import Batch
from imagegan.models.text import encode_captions
from imagegan.regularizers import ConditioningKL, MismatchedPairs
from runcore.errors import UserError
from tests.imagegan.helpers import CAPTIONS, assert_trains, tiny_model


def test_steps_change_every_parameter_including_the_text_encoder():
    model = tiny_model("stackgan", image_size=32)
    records = assert_trains(model)
    assert {"d_loss_stage1", "d_loss_stage2", "d_text_match_hardest", "g_loss_stage1", "g_loss_stage2", "kl"} <= set(records[0])
    assert any(name.startswith("text.") for name, _ in model.discriminator.named_parameters())


def test_stage_one_is_half_the_size_of_stage_two():
    model = tiny_model("stackgan", image_size=32)
    low, high = model.generate_stages(encode_captions(CAPTIONS))
    assert low.shape == (2, 3, 16, 16) and high.shape == (2, 3, 32, 32)
    grid = model.sample_grid(captions=CAPTIONS, per_caption=2)
    assert grid.images.shape == (8, 3, 32, 32) and grid.nrow == 4 and grid.captions == CAPTIONS


def test_text_encoder_ignores_padding_and_tells_captions_apart():
    encoder = tiny_model("stackgan", image_size=32).discriminator.text
    short = encode_captions(["a red circle"])
    padded = encode_captions(["a red circle", "a much longer caption about a large blue square"])
    assert short.shape[1] < padded.shape[1]
    assert_close(encoder(short)[0], encoder(padded)[0])
    assert not torch.allclose(encoder(padded)[0], encoder(padded)[1])
    # the caption vector is the mean over characters of the forward and the backward GRU's outputs
    ids = encode_captions(["a red circle"])
    cell = encoder.gru
    x = encoder.embed(ids)[0]
    forward, backward = [], []
    h = torch.zeros(cell.hidden_size)
    for step in x:
        h = _gru_step(cell, "l0", step, h)
        forward.append(h)
    h = torch.zeros(cell.hidden_size)
    for step in x.flip(0):
        h = _gru_step(cell, "l0_reverse", step, h)
        backward.append(h)
    naive = torch.cat([torch.stack(forward), torch.stack(backward[::-1])], dim=1).mean(dim=0)
    assert_close(encoder(ids)[0], naive)


@pytest.mark.parametrize("path", ["packed_outputs", "shifted_outputs"])
def test_text_encoder_on_a_padded_batch_equals_each_caption_alone_values_and_gradients(path):
    """Both ways through the GRU (packed on the CPU; shifted elsewhere, with no host read of the
    lengths) must make padding invisible: each row's outputs, and the gradient they send back,
    are that caption's own."""
    encoder = copy.deepcopy(tiny_model("stackgan", image_size=32).discriminator.text).double()
    captions = ["a small red circle at the top left", "x", "", "a large blue square", "in the center"]

    def outputs(ids):
        return getattr(encoder, path)(ids, (ids != 0).sum(dim=1).clamp(min=1))

    batch = outputs(encode_captions(captions))
    alone = [outputs(encode_captions([caption]))[0] for caption in captions]
    alone = torch.stack([F.pad(rows, (0, 0, 0, batch.shape[1] - len(rows))) for rows in alone])
    assert_close(batch, alone)
    weights = torch.randn_like(batch)
    batch_grads = torch.autograd.grad((batch * weights).sum(), list(encoder.parameters()))
    alone_grads = torch.autograd.grad((alone * weights).sum(), list(encoder.parameters()))
    for (name, _), mine, reference in zip(encoder.named_parameters(), batch_grads, alone_grads):
        assert_close(mine, reference, msg=name)
    ids = encode_captions(captions)
    assert_close(encoder.shifted_outputs(ids, (ids != 0).sum(dim=1)), encoder.packed_outputs(ids, (ids != 0).sum(dim=1)))


def _gru_step(gru, layer, x, h):
    """One GRU step written out (PyTorch's gate order: reset, update, new)."""
    w_ih, w_hh = getattr(gru, f"weight_ih_{layer}"), getattr(gru, f"weight_hh_{layer}")
    b_ih, b_hh = getattr(gru, f"bias_ih_{layer}"), getattr(gru, f"bias_hh_{layer}")
    gi, gh = w_ih @ x + b_ih, w_hh @ h + b_hh
    (i_r, i_z, i_n), (h_r, h_z, h_n) = gi.chunk(3), gh.chunk(3)
    r, z = torch.sigmoid(i_r + h_r), torch.sigmoid(i_z + h_z)
    n = torch.tanh(i_n + r * h_n)
    return (1 - z) * n + z * h


def test_conditioning_kl_by_hand():
    mean = torch.tensor([[0.5, -1.0]])
    log_var = torch.tensor([[0.0, math.log(2.0)]])
    elements = [0.5 * (0.25 + 1 - 1 - 0), 0.5 * (1.0 + 2.0 - 1 - math.log(2.0))]
    assert_close(ConditioningKL(2.0)(mean, log_var), torch.tensor(2.0 * sum(elements) / 2))


def test_mismatched_pairs_score_as_fakes_by_hand():
    logits = torch.tensor([1.0, -2.0])
    expected = 0.5 * sum(-math.log(1 - 1 / (1 + math.exp(-x))) for x in (1.0, -2.0)) / 2
    assert_close(MismatchedPairs(0.5)(NonSaturating(), logits), torch.tensor(expected))
    assert MismatchedPairs.shuffle(torch.arange(4)).tolist() == [3, 0, 1, 2]


def test_hardest_negative_is_the_nearest_different_caption():
    ids = encode_captions(["a red circle", "a red square", "a red circle", "a blue circle", "a blue square"])
    text = torch.tensor([[1.0, 0.0], [0.9, 0.1], [1.0, 0.0], [0.0, 1.0], [-1.0, 0.2]])
    expected = []
    for row in range(len(ids)):  # naive: every different caption, highest cosine wins
        candidates = [j for j in range(len(ids)) if not torch.equal(ids[j], ids[row])]
        cosine = [torch.cosine_similarity(text[row], text[j], dim=0).item() for j in candidates]
        expected.append(candidates[max(range(len(cosine)), key=cosine.__getitem__)])
    assert MismatchedPairs.hardest(text, ids).tolist() == expected == [1, 0, 1, 4, 3]
    # a batch of one caption repeated has no different caption: fall back to the shifted batch
    same = encode_captions(["a red circle"] * 3)
    assert MismatchedPairs.hardest(torch.randn(3, 2), same).tolist() == [2, 0, 1]


@pytest.mark.parametrize("weight, hardest_weight", [(0.5, 0.0), (0.0, 0.5), (0.5, 0.5)])
def test_d_loss_sums_the_mismatch_terms_it_is_given(weight, hardest_weight):
    model = tiny_model("stackgan", image_size=32)
    model.mismatch.weight, model.mismatch.hardest_weight = weight, hardest_weight  # D holds the same object
    data = load_dataset("shapes", image_size=32, limit=8)
    captions = encode_captions(data.captions)
    z = model.noise(8, torch.Generator().manual_seed(0))
    torch.manual_seed(1)  # conditioning augmentation draws its noise from the global generator
    with torch.no_grad():
        fake_low, fake_high, _ = model.generator(z, model.discriminator.text(captions))
    state = copy.deepcopy(model.discriminator.state_dict())
    with torch.no_grad():  # D's logits before its update, scored by hand
        text = model.discriminator.text(captions)
        real_low = F.avg_pool2d(data.images, 2)
        expected = 0.0
        for stage, real in ((model.discriminator.stage1, real_low), (model.discriminator.stage2, data.images)):
            fake = fake_low if stage is model.discriminator.stage1 else fake_high
            expected += -F.logsigmoid(stage(real, text)).mean() - 0.5 * F.logsigmoid(-stage(fake, text)).mean()
            expected += -weight * F.logsigmoid(-stage(real, text.roll(1, dims=0))).mean()
            expected += -hardest_weight * F.logsigmoid(-stage(real, text[MismatchedPairs.hardest(text, captions)])).mean()
    model.discriminator.load_state_dict(state)  # the forward passes above moved batch-norm statistics
    torch.manual_seed(1)
    records = model.d_step(Batch(images=data.images, captions=captions, z=z))
    assert_close(records["d_loss_stage1"] + records["d_loss_stage2"], expected)
    assert ("d_text_match" in records) == (weight > 0)
    assert ("d_text_match_hardest" in records) == (hardest_weight > 0)
    with pytest.raises(ValueError, match="weights"):
        MismatchedPairs(0.5, hardest_weight=-1.0)


def test_rejects_sizes_without_a_stage_one():
    with pytest.raises(UserError, match="stackgan cannot make 16x16"):
        build_model("stackgan", GANSpec(image_size=16, channels=3))
