"""The fast paths do what the plain ones do: fused Adam, bf16 discriminator, graphed D steps.

Each is compared with the plain path on the same inputs: the same D losses and weights over an
epoch (fused vs PyTorch's default Adam, to rounding), the same MLE loss curve, D's bf16 outputs
within bf16 noise of fp32 ones with the loss in fp32, and a graphed step equal to the eager one
(on the CPU it is the eager one; the CUDA test replays a captured graph).
"""

from __future__ import annotations

import pytest
import torch
from torch.testing import assert_close

from runcore import GraphedStep, adam
from textgan.models import Discriminator, DiscriminatorConfig, Generator, GeneratorConfig
from benchmarks.windows_backward import autograd_window_maxes
from textgan.models.discriminator import Dropout, _WindowBank, dropout, max_gradient, taps_major, window_maxes
from textgan.rewards.discriminator import DiscriminatorReward
from textgan.rewards.training import fit_reward_model

pytestmark = pytest.mark.usefixtures("one_torch_thread")

VOCAB, WIDTH = 50, 12
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def discriminator(precision: str = "fp32", dropout: float = 0.25, seed: int = 0) -> Discriminator:
    torch.manual_seed(seed)
    config = DiscriminatorConfig(VOCAB, WIDTH, embed_dim=16, filter_sizes=(1, 2, 3, 5, 12), num_filters=(8, 16, 16, 8, 8),
                                 dropout=dropout, precision=precision)
    return Discriminator(config)


def data(n: int = 300, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    real = 4 + (torch.arange(n).unsqueeze(1) + torch.arange(WIDTH)) % 6
    fake = torch.randint(0, VOCAB, (n, WIDTH), generator=g)
    return real, fake


def plain_epoch(d: Discriminator, tokens: torch.Tensor, labels: torch.Tensor, order: torch.Tensor, batch: int) -> list[float]:
    """One epoch written out: PyTorch's default Adam, zero_grad / backward / step."""
    optimizer = torch.optim.Adam(d.parameters(), lr=1e-3)
    losses = []
    d.train()
    for index in order.split(batch):
        loss = d.loss(tokens[index], labels[index].float())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    return losses


def test_runcore_adam_is_fused_and_capturable_where_it_can_be():
    d = discriminator()
    optimizer = adam(d.parameters(), lr=1e-3)
    assert optimizer.defaults["fused"] and optimizer.defaults["capturable"]
    meta = torch.nn.Linear(2, 2, device="meta")
    assert not adam(meta.parameters(), lr=1e-3).defaults["fused"]  # no fused kernel there: foreach


def test_ds_filters_are_taps_major_and_take_their_gradients_as_computed():
    d = discriminator()
    real, fake = data(8)
    weights = [conv.weight for conv in d.convs]
    computed = torch.autograd.grad(d.loss(torch.cat([real, fake]), torch.cat([torch.ones(8), torch.zeros(8)])), weights)
    for weight, grad in zip(weights, computed):  # (F, w, E) in memory: the taps' matrix is a view,
        assert weight.permute(0, 2, 1).is_contiguous() and grad.permute(0, 2, 1).is_contiguous()  # autograd keeps the gradient
    copy = Discriminator(d.config)
    copy.load_state_dict({name: value.contiguous() for name, value in d.state_dict().items()})  # as a checkpoint holds it
    assert all(a.stride() == b.stride() and torch.equal(a, b) for a, b in zip(copy.parameters(), d.parameters()))


def test_a_loaded_adam_state_takes_its_parameters_layout_and_resumes_exactly():
    """The fused kernel reads parameter, gradient and state as flat memory: a contiguous state for a
    taps-major weight would update the wrong entries (it does without runcore.adam's load hook)."""
    torch.manual_seed(0)
    weight = taps_major(torch.randn(6, 4, 3))  # as D's filters
    grads = [torch.randn(6, 4, 3) for _ in range(4)]
    runs = []
    for resume in (False, True):
        param = torch.nn.Parameter(weight.clone(memory_format=torch.preserve_format))
        optimizer = adam([param], lr=0.1)
        for i, grad in enumerate(grads):
            if resume and i == 2:  # a checkpoint's round trip: every tensor contiguous
                state = optimizer.state_dict()
                saved = {"state": {k: {n: v.contiguous().clone() for n, v in s.items()} for k, s in state["state"].items()}, "param_groups": state["param_groups"]}
                param = torch.nn.Parameter(param.detach().clone(memory_format=torch.preserve_format))
                optimizer = adam([param], lr=0.1)
                optimizer.load_state_dict(saved)
                assert optimizer.state[param]["exp_avg"].stride() == param.stride()
            param.grad = taps_major(grad)  # as autograd lays it out
            optimizer.step()
        runs.append(param.detach())
    assert_close(runs[1], runs[0], rtol=0, atol=0)


def test_a_d_epoch_with_fused_adam_equals_the_plain_loop():
    real, fake = data()
    tokens, labels = torch.cat([real, fake]), torch.cat([torch.ones(len(real)), torch.zeros(len(fake))]).bool()
    order = torch.randperm(len(tokens), generator=torch.Generator().manual_seed(5))

    plain, fast = discriminator(), discriminator()
    torch.manual_seed(7)  # dropout masks: the same stream in both runs
    plain_losses = plain_epoch(plain, tokens, labels, order, 64)

    reward = DiscriminatorReward(fast, learning_rate=1e-3)
    torch.manual_seed(7)
    fast_losses = [float(reward.train_step(tokens[i], labels[i])["d_loss"]) for i in order.split(64)]
    assert_close(torch.tensor(fast_losses), torch.tensor(plain_losses), rtol=1e-5, atol=1e-6)
    for (name, a), b in zip(fast.named_parameters(), plain.parameters()):
        assert_close(a, b, rtol=1e-4, atol=1e-6, msg=name)
    assert not torch.equal(fast.output.weight, discriminator().output.weight)  # it did train


def test_fit_reward_model_runs_the_same_steps_as_the_plain_loop():
    real, fake = data(100)
    rng = torch.Generator().manual_seed(3)
    fast, plain = discriminator(), discriminator()
    reward = DiscriminatorReward(fast, learning_rate=1e-3)
    torch.manual_seed(11)
    metrics = fit_reward_model(reward, real, fake, 1, 32, rng)
    tokens = torch.cat([real, fake])
    labels = torch.cat([torch.ones(len(real)), torch.zeros(len(fake))]).bool()
    torch.manual_seed(11)
    losses = plain_epoch(plain, tokens, labels, torch.randperm(len(tokens), generator=torch.Generator().manual_seed(3)), 32)
    assert metrics["d_loss"] == pytest.approx(sum(losses) / len(losses), rel=1e-5)
    for a, b in zip(fast.parameters(), plain.parameters()):
        assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_the_mle_loss_curve_with_fused_adam_equals_pytorchs_default_adam():
    tokens = (3 + (torch.arange(256).unsqueeze(1) // 3 + torch.arange(10)) % 20)  # a learnable corpus
    curves = []
    for make in (lambda p: torch.optim.Adam(p, lr=0.01), lambda p: adam(p, lr=0.01)):
        torch.manual_seed(0)
        g = Generator(GeneratorConfig(vocab_size=40))
        optimizer = make(g.parameters())
        curve = []
        for batch in tokens.split(16):
            loss = g.mle_loss(batch)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(g.parameters(), 5.0)
            optimizer.step()
            curve.append(float(loss.detach()))
        curves.append(torch.tensor(curve))
    assert_close(curves[1], curves[0], rtol=1e-5, atol=1e-6)
    assert curves[0][-1] < curves[0][0] - 0.2  # the curve is a learning curve


def conv_reference(d: Discriminator, tokens: torch.Tensor) -> torch.Tensor:
    """D's logits written with Conv1d and autograd through it (the paper's formula, eval mode)."""
    x = d.embedding(tokens).transpose(1, 2)
    pooled = torch.cat([torch.relu(conv(x)).amax(dim=2) for conv in d.convs], dim=1)
    gate = torch.sigmoid(d.highway_gate(pooled))
    return d.output(gate * torch.relu(d.highway_transform(pooled)) + (1 - gate) * pooled).squeeze(-1)


def test_the_training_path_im2col_equals_the_convolution_in_values_and_every_gradient():
    """Under autograd D computes its windows as matrix products; scoring uses Conv1d. Widths 1 and
    WIDTH (one window) are among the filters."""
    d = discriminator(dropout=0.0).eval()
    real, fake = data(40)
    tokens = torch.cat([real, fake])
    assert {1, WIDTH} <= {conv.kernel_size[0] for conv in d.convs}
    with torch.no_grad():
        scored = d(tokens)
    trained = d(tokens)
    assert trained.requires_grad
    assert_close(trained, scored, rtol=1e-5, atol=1e-5)
    reference = conv_reference(d, tokens)
    assert_close(scored, reference.detach())
    weights = torch.randn(len(tokens), generator=torch.Generator().manual_seed(3))  # a loss that weighs each row differently
    ours = torch.autograd.grad((trained * weights).sum(), list(d.parameters()))
    theirs = torch.autograd.grad((reference * weights).sum(), list(d.parameters()))
    names = [name for name, _ in d.named_parameters()]
    for name, a, b in zip(names, ours, theirs):
        assert_close(a, b, rtol=1e-4, atol=1e-5, msg=lambda m, name=name: f"{name}: {m}")
    conv_weights = [g for name, g in zip(names, ours) if name.startswith("convs.") and name.endswith(".weight")]
    assert len(conv_weights) == len(d.convs) and all(float(g.abs().sum()) > 0 for g in conv_weights)  # every filter learns


def test_max_gradient_is_amaxs_backward_bit_for_bit_ties_included():
    g = torch.Generator().manual_seed(0)
    values = torch.randn(7, 5, 6, generator=g)
    values[3] = values[1]  # every column ties between windows 1 and 3
    values[5, :2] = values[1, :2]  # and three ways in two columns
    values[:, 4] = 0.0  # all windows tie
    values[:, 2, 5] = -0.0
    values.requires_grad_(True)
    best = values.amax(dim=0)
    grad = torch.randn(best.shape, generator=g)
    (theirs,) = torch.autograd.grad(best, values, grad)
    ours = max_gradient(values.detach(), best.detach(), grad)
    assert torch.equal(ours, theirs)
    assert theirs[1, 0, 0] == grad[0, 0] / 3 or theirs[1, 0, 0] == 0  # a three-way tie shares the gradient


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("p", [0.25, 0.5, 0.9])
def test_ds_dropout_is_f_dropout_bit_for_bit_and_draws_what_it_draws(dtype, p):
    x = torch.randn(64, 173, dtype=dtype)
    outputs, grads, after = [], [], []
    for fn in (torch.nn.functional.dropout, dropout):
        torch.manual_seed(7)
        leaf = x.clone().requires_grad_(True)
        out = fn(leaf, p, True)
        out.backward(torch.arange(out.numel(), dtype=dtype).view_as(out))
        outputs.append(out.detach())
        grads.append(leaf.grad)
        after.append(torch.rand(4))  # the generator left where dropout leaves it
    assert torch.equal(outputs[0], outputs[1]) and torch.equal(grads[0], grads[1]) and torch.equal(after[0], after[1])
    dropped = (outputs[1] == 0).float().mean().item()
    assert abs(dropped - p) < 0.02  # a mask, not a copy: about p of the entries are zeroed
    module = Dropout(p)
    assert torch.equal(module.eval()(x), x)  # eval mode passes x through, as nn.Dropout does
    torch.manual_seed(7)
    assert torch.equal(module.train()(x), outputs[0])


@pytest.mark.parametrize(("width", "w"), [(12, 1), (12, 5), (11, 6), (12, 8), (12, 12), (4, 3)])
def test_the_windows_backward_equals_autograd_of_the_im2col_product(width, w):
    """Every case of the backward's input gradient: more windows than taps, as many, fewer, one."""
    g = torch.Generator().manual_seed(w)
    conv = torch.nn.Conv1d(16, 6, w)
    tokens = torch.randint(0, 9, (10, width), generator=g)
    tokens[:, width // 2 :] = 3  # padding-like runs: windows that tie
    table = torch.randn(9, 16, generator=g, requires_grad=True)
    embedded = table[tokens]
    ours = window_maxes(embedded, [conv])
    theirs = autograd_window_maxes(embedded, [conv])  # autograd through the plain formula (the benchmark's reference)
    assert_close(ours, theirs, rtol=1e-5, atol=1e-6)
    upstream = torch.randn(ours.shape, generator=g)
    for a, b, name in zip(torch.autograd.grad(ours, [table, conv.weight, conv.bias], upstream, retain_graph=True),
                          torch.autograd.grad(theirs, [table, conv.weight, conv.bias], upstream), ["embedding", "weight", "bias"]):  # fmt: skip
        assert_close(a, b, rtol=1e-5, atol=1e-5, msg=lambda m, name=name: f"{name}: {m}")


def test_a_bank_of_filters_shares_one_input_gradient_and_leaves_frozen_weights_alone():
    """Several widths in one node (more windows than taps, fewer, one) add into one input
    gradient; a frozen filter's weight gets no gradient, and its bias, the embedding and the
    other filters the same as with it trained."""
    g = torch.Generator().manual_seed(11)
    convs = [torch.nn.Conv1d(16, maps, w) for w, maps in [(1, 5), (3, 7), (8, 4), (12, 6)]]
    tokens = torch.randint(0, 9, (10, 12), generator=g)
    tokens[:, 8:] = 3  # windows that tie
    table = torch.randn(9, 16, generator=g, requires_grad=True)
    embedded = table[tokens]
    ours = window_maxes(embedded, convs)
    theirs = autograd_window_maxes(embedded, convs)
    assert_close(ours, theirs, rtol=1e-5, atol=1e-6)
    upstream = torch.randn(ours.shape, generator=g)
    inputs = [table] + [p for conv in convs for p in conv.parameters()]
    expected = torch.autograd.grad(theirs, inputs, upstream, retain_graph=True)  # embedded is shared
    for a, b in zip(torch.autograd.grad(ours, inputs, upstream), expected):
        assert_close(a, b, rtol=1e-5, atol=1e-5)
    convs[1].weight.requires_grad_(False)
    ours = window_maxes(table[tokens], convs)
    ours.backward(upstream)
    assert convs[1].weight.grad is None
    assert_close(convs[1].bias.grad, expected[4], rtol=1e-5, atol=1e-5)  # the flags are per parameter
    assert_close(table.grad, expected[0], rtol=1e-5, atol=1e-5)
    assert_close(convs[2].weight.grad, expected[5], rtol=1e-5, atol=1e-5)


def test_bf16_discriminator_is_fp32_within_bf16_noise_and_its_loss_is_fp32():
    fp32, bf16 = discriminator(dropout=0.0), discriminator("bf16", dropout=0.0)
    bf16.load_state_dict(fp32.state_dict())
    real, fake = data(200)
    tokens = torch.cat([real, fake])
    labels = torch.cat([torch.ones(200), torch.zeros(200)])
    a, b = fp32(tokens), bf16(tokens)
    assert b.dtype == torch.float32 and bf16.loss(tokens, labels).dtype == torch.float32
    assert not torch.equal(a, b)  # it does compute in bf16
    assert_close(b, a, rtol=0.05, atol=0.02)  # bf16 keeps 8 bits of mantissa
    grads = []
    for model in (fp32, bf16):
        model.zero_grad()
        model.loss(tokens, labels).backward()
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters()]))
    assert torch.nn.functional.cosine_similarity(grads[0], grads[1], dim=0) > 0.99


def test_under_bf16_autocast_the_bank_casts_its_input_once_and_computes_what_each_product_would():
    """Autocast would cast every filter's windows' rows to bf16 for its product; window_maxes casts
    the embedded rows once before laying out the windows (the same values: a cast is elementwise),
    and the bank keeps bf16 rows and taps for its backward pass. Output and every gradient are those
    of the bank handed fp32 rows under autocast, bit for bit."""
    d = discriminator("bf16", dropout=0.0)
    tokens = torch.cat(data(20))
    widths = tuple(conv.kernel_size[0] for conv in d.convs)
    params = [p for conv in d.convs for p in (conv.weight, conv.bias)]
    inputs = [d.embedding.weight, *params]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        ours = window_maxes(d.embedding(tokens), d.convs)
        theirs = _WindowBank.apply(d.embedding(tokens).transpose(0, 1), widths, *params)  # fp32 rows: autocast casts each product's
    saved = ours.grad_fn.saved_tensors
    assert {t.dtype for t in saved[0::4] + saved[1::4]} == {torch.bfloat16}  # each filter's rows and taps
    assert {t.dtype for t in theirs.grad_fn.saved_tensors[0::4]} == {torch.float32}
    assert ours.dtype == theirs.dtype == torch.bfloat16 and torch.equal(ours, theirs)
    upstream = torch.randn(ours.shape, generator=torch.Generator().manual_seed(2)).to(ours.dtype)
    for name, a, b in zip(["embedding"] + [f"param {i}" for i in range(len(params))],
                          torch.autograd.grad(ours, inputs, upstream), torch.autograd.grad(theirs, inputs, upstream)):  # fmt: skip
        assert a.dtype == b.dtype == torch.float32 and torch.equal(a, b), name


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bf16_discriminator_learns_like_fp32(seed):
    """Trained the same way, both precisions separate real from generated rows equally well."""
    real, fake = data(256, seed=seed)
    held_real, held_fake = data(128, seed=seed + 10)
    accuracy = {}
    for precision in ("fp32", "bf16"):
        reward = DiscriminatorReward(discriminator(precision, seed=seed), learning_rate=1e-3)
        for _ in range(3):
            fit_reward_model(reward, real, fake, 1, 64, torch.Generator().manual_seed(seed))
        accuracy[precision] = reward.evaluate(held_real, held_fake)["d_accuracy"]
    assert accuracy["fp32"] > 0.9  # the task is learnable at this budget
    assert accuracy["bf16"] > accuracy["fp32"] - 0.05


def test_an_unknown_precision_is_refused():
    with pytest.raises(ValueError, match="precision must be one of fp32, bf16"):
        DiscriminatorConfig(VOCAB, WIDTH, precision="fp16")


def test_a_graphed_step_on_the_cpu_is_the_eager_step():
    calls = []
    model = torch.nn.Linear(3, 1)
    optimizer = adam(model.parameters(), lr=0.1)

    def step(x):
        calls.append(1)
        loss = model(x).square().mean()
        loss.backward()
        optimizer.step()
        return {"loss": loss.detach()}

    graphed = GraphedStep(step, optimizer)
    x = torch.ones(4, 3)
    first = graphed(x)["loss"]
    for _ in range(5):
        graphed(x)
    assert len(calls) == 6 and float(graphed(x)["loss"]) < float(first)  # every call a real step


@cuda
def test_graphed_d_steps_on_cuda_equal_eager_steps():
    real, fake = data()
    tokens = torch.cat([real, fake]).cuda()
    labels = torch.cat([torch.ones(len(real)), torch.zeros(len(fake))]).bool().cuda()
    order = torch.randperm(len(tokens), generator=torch.Generator().manual_seed(5)).cuda()
    results = []
    for graphs in (False, True):
        d = discriminator(dropout=0.0).cuda()  # no dropout: the eager and graphed random streams differ
        reward = DiscriminatorReward(d, learning_rate=1e-3, cuda_graphs=graphs)
        losses = [reward.train_step(tokens[i], labels[i])["d_loss"] for i in order.split(64)]
        results.append((torch.stack(losses), [p.detach().clone() for p in d.parameters()]))
        if graphs:
            assert reward._step._graphs, "no step was captured"
    assert_close(results[1][0], results[0][0], rtol=1e-4, atol=1e-5)
    for a, b in zip(results[1][1], results[0][1]):
        assert_close(a, b, rtol=1e-3, atol=1e-5)


def test_fit_reward_model_scores_at_most_eval_rows_of_each_side_after_training():
    from textgan.rewards import training

    seen = []

    class Recorder:
        def train_step(self, tokens, is_real):
            return {"loss": tokens.float().mean()}

        def evaluate(self, real, fake):
            seen.append((real, fake))
            return {}

    real = torch.arange(3000 * 2).view(3000, 2)
    fake = -torch.arange(2500 * 2).view(2500, 2)
    fit_reward_model(Recorder(), real, fake, 1, 500, torch.Generator().manual_seed(0))
    (scored_real, scored_fake), = seen
    assert torch.equal(scored_real, real[: training.EVAL_ROWS]) and torch.equal(scored_fake, fake[: training.EVAL_ROWS])
    fit_reward_model(Recorder(), real[:10], fake[:7], 1, 4, torch.Generator().manual_seed(0))
    assert seen[1][0].shape[0] == 10 and seen[1][1].shape[0] == 7  # small sets: all of them


def test_a_gradient_of_the_windows_gradient_is_refused_not_silently_wrong():
    conv = torch.nn.Conv1d(4, 3, 2)
    embedded = torch.randn(2, 5, 4, requires_grad=True)
    (grad,) = torch.autograd.grad(window_maxes(embedded, [conv]).sum(), embedded, create_graph=True)
    with pytest.raises(RuntimeError, match="does not require grad"):
        grad.square().sum().backward()
