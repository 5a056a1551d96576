"""WGAN: clipping, RMSprop, the 100-then-5 critic schedule with the critic trained first."""

import torch
from torch.testing import assert_close

from imagegan.regularizers import WeightClipping
from runcore import run_adversarial
from tests.imagegan.helpers import assert_trains, random_batch, tiny_model


def test_steps_train_and_keep_the_critic_clipped():
    model = tiny_model("wgan")
    # clipped parameters pushed further out stay at the bound, so not all of D need move
    records = assert_trains(model, d_may_stay=True)
    assert {"d_loss", "d_gap", "g_loss"} <= set(records[0])
    assert max(float(p.detach().abs().max()) for p in model.discriminator.parameters()) <= 0.01
    assert isinstance(model.d_optimizer, torch.optim.RMSprop) and model.d_optimizer.defaults["lr"] == 5e-5


def test_weight_clipping_clamps_every_parameter():
    layer = torch.nn.Linear(3, 1)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[-0.5, 0.005, 0.2]]))
        layer.bias.fill_(-0.02)
    WeightClipping(0.01)(layer)
    assert_close(layer.weight, torch.tensor([[-0.01, 0.005, 0.01]]))
    assert_close(layer.bias, torch.tensor([-0.01]))


def test_critic_schedule_and_order():
    model = tiny_model("wgan")
    schedule = model.schedule(1000)
    assert [schedule.d_steps_at(r) for r in (0, 24, 25, 499, 500, 501)] == [100, 100, 5, 5, 100, 5]
    flat = model.schedule(10, d_steps=2)
    assert [flat.d_steps_at(r) for r in (0, 500)] == [2, 2]
    calls = []
    run_adversarial(model.schedule(2, d_steps=3), lambda r: calls.append("g"), lambda r: calls.append("d"))
    assert calls == ["d", "d", "d", "g"] * 2  # the critic is trained before each G update


def test_wasserstein_estimate_is_the_critic_gap():
    model = tiny_model("wgan")
    batch = random_batch(model)
    metrics = model.d_step(batch)
    assert_close(metrics["d_loss"], -metrics["d_gap"])  # critic loss = E f(fake) - E f(real), no penalty
