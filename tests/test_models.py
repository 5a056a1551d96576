"""Generator, discriminator and sampling: shapes, equivalences, and the sampling distribution."""

import torch
from torch.testing import assert_close

from textgan.models import Discriminator, DiscriminatorConfig, Generator, GeneratorConfig, sample_from_logits


def small_generator(vocab=11, eos=2, seed=0):
    torch.manual_seed(seed)
    return Generator(GeneratorConfig(vocab_size=vocab, embed_dim=8, hidden_dim=12, eos_id=eos))


def test_teacher_forcing_equals_stepping():
    g = small_generator()
    tokens = torch.randint(0, 11, (5, 7))
    logits = g(tokens)
    state = g.initial_state(5)
    previous = torch.full((5,), g.config.bos_id)
    for t in range(7):
        step_logits, state = g.step(previous, state)
        assert_close(step_logits, logits[:, t])
        previous = tokens[:, t]


def test_prefix_states_match_a_naive_loop():
    g = small_generator()
    tokens = torch.randint(3, 11, (6, 8))
    lengths = torch.tensor([0, 1, 3, 8, 5, 2])
    logits, (h, c) = g.prefix_states(tokens, lengths)
    for b in range(6):
        state = g.initial_state(1)
        step_logits, state = g.step(torch.tensor([g.config.bos_id]), state)
        for t in range(int(lengths[b])):
            step_logits, state = g.step(tokens[b : b + 1, t], state)
        assert_close(logits[b], step_logits[0])
        assert_close(h[b], state[0][0])
        assert_close(c[b], state[1][0])


def test_sample_is_seeded_and_pads_after_eos():
    g = small_generator(vocab=4)  # EOS (2) is likely: many sequences end early
    a = g.sample(200, 9, generator=torch.Generator().manual_seed(3))
    b = g.sample(200, 9, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    saw_eos = False
    for row in a.tolist():
        if 2 in row:
            saw_eos = True
            assert all(tok == 0 for tok in row[row.index(2) + 1 :])
    assert saw_eos


def test_sample_follows_the_model_distribution():
    # first-token frequencies over many samples match softmax of the first-step logits
    g = small_generator(vocab=6, eos=None)
    samples = g.sample(60_000, 1, generator=torch.Generator().manual_seed(0))[:, 0]
    expected = torch.softmax(g.step(torch.tensor([g.config.bos_id]), g.initial_state(1))[0][0], -1)
    observed = torch.bincount(samples, minlength=6).float() / len(samples)
    assert_close(observed, expected.detach(), atol=0.01, rtol=0)


def test_sample_from_logits_inverse_cdf():
    logits = torch.log(torch.tensor([[0.1, 0.2, 0.3, 0.4]]).repeat(5, 1))
    u = torch.tensor([0.0, 0.05, 0.15, 0.55, 0.999])
    assert sample_from_logits(logits, u).tolist() == [0, 0, 1, 2, 3]
    # chunked sampling of hidden states equals sampling the full logits
    g = small_generator()
    hidden = torch.randn(300, 12)
    u = torch.rand(300)
    assert torch.equal(g.sample_next(hidden, u, chunk_rows=7), sample_from_logits(g.output(hidden), u))


def test_mle_loss_ignores_positions_after_eos():
    g = small_generator()
    tokens = torch.tensor([[5, 6, 2, 0, 0], [5, 6, 7, 8, 9]])
    mask = g.loss_mask(tokens)
    assert mask.tolist() == [[True, True, True, False, False], [True] * 5]
    changed = tokens.clone()
    changed[0, 3:] = 7  # garbage after EOS must not change the loss of row 0
    nll_a, _ = g.token_nll(tokens)
    nll_b, _ = g.token_nll(changed)
    assert_close(nll_a[0], nll_b[0])


def test_discriminator_skips_filters_wider_than_the_sequence_and_scores_rows_independently():
    torch.manual_seed(0)
    d = Discriminator(DiscriminatorConfig(vocab_size=9, max_len=4))
    assert [conv.kernel_size[0] for conv in d.convs] == [1, 2, 3, 4]
    tokens = torch.randint(0, 9, (6, 4))
    batch = d.prob_real(tokens)
    single = torch.cat([d.prob_real(tokens[i : i + 1]) for i in range(6)])
    assert_close(batch, single)
    assert ((batch > 0) & (batch < 1)).all()


def test_discriminator_forward_is_the_papers_formula():
    """D takes the ReLU after max-over-time (the same numbers: ReLU is monotone)."""
    torch.manual_seed(0)
    d = Discriminator(DiscriminatorConfig(vocab_size=9, max_len=12, embed_dim=6, filter_sizes=(1, 3, 12), num_filters=(4, 5, 3)))
    # the whole forward pass against the paper's formula written with Conv1d: max over time of ReLU
    d.eval()
    tokens = torch.randint(0, 9, (7, 12))
    embedded = d.embedding(tokens).transpose(1, 2)
    pooled = torch.cat([torch.relu(conv(embedded)).amax(dim=2) for conv in d.convs], dim=1)
    gate = torch.sigmoid(d.highway_gate(pooled))
    features = gate * torch.relu(d.highway_transform(pooled)) + (1 - gate) * pooled
    reference = d.output(features).squeeze(-1)
    assert_close(d(tokens), reference)
    weights = [conv.weight for conv in d.convs]
    assert_close(torch.autograd.grad(d(tokens).sum(), weights), torch.autograd.grad(reference.sum(), weights))


def test_discriminator_loss_includes_the_papers_l2_term():
    torch.manual_seed(0)
    d = Discriminator(DiscriminatorConfig(vocab_size=9, max_len=4, l2_reg=0.5, dropout=0.0))
    tokens, labels = torch.randint(0, 9, (3, 4)), torch.tensor([1, 0, 1])
    bce = torch.nn.functional.binary_cross_entropy_with_logits(d(tokens), labels.float())
    l2 = 0.5 * (d.output.weight.pow(2).sum() + d.output.bias.pow(2).sum()) / 2
    assert_close(d.loss(tokens, labels), bce + l2)
