"""The analyses that read a text's trace (step card, tables, reset, number units, memory), each
against the same numbers computed here with plain nn.GRU, nn.GRUCell and NumPy."""

import string

import numpy as np
import pytest
import torch

from gru_core import (
    GRUConfig,
    TokenGRU,
    balance,
    clause_difference,
    contributions,
    direct_path,
    heatmaps,
    histogram,
    holders,
    load_checkpoint,
    number_units,
    reset_counterfactual,
    saturation_claim,
    save_checkpoint,
    span_counts,
    step_card,
    top_k,
    trace_table,
    were_minus_was,
)

from ..reference import gru_cell_steps

VOCAB = sorted(set(string.ascii_lowercase + "T ,."))


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    torch.manual_seed(4)
    module = TokenGRU(GRUConfig(len(VOCAB), 16, num_layers=2))
    with torch.no_grad():
        for p in module.parameters():
            p.mul_(3.0)  # gates well away from 0.5, so the tests see saturation and holding
    path = tmp_path_factory.mktemp("ck") / "small.pt"
    save_checkpoint(path, module, VOCAB, {})
    return load_checkpoint(path)


def plain(model, text):
    """nn.GRU's output per layer, and every layer-1 term, from plain modules."""
    gru = model.module.gru
    x = torch.nn.functional.one_hot(torch.tensor([VOCAB.index(c) for c in text]),
                                    len(VOCAB)).float()
    one = torch.nn.GRU(len(VOCAB), 16)
    one.load_state_dict({k: v for k, v in gru.state_dict().items() if k.endswith("_l0")})
    with torch.no_grad():
        h0 = one(x)[0]
    return x, h0, gru_cell_steps(gru, h0, layer=1)


TEXT = "The cats, which ate the fish, were full."


def test_step_card_is_every_term_of_the_step(model):
    tt = model.trace(TEXT)
    _, h0, ref = plain(model, TEXT)
    t, unit = 17, 5
    card = step_card(tt, t, unit, layer=1)
    for name in ("ir", "hr", "r", "iz", "hz", "z", "in", "hn", "n", "h_prev"):
        assert card.terms[name] == ref[name][t, unit].item(), name
    z, n, h_prev = (ref[k][t, unit].item() for k in ("z", "n", "h_prev"))
    assert card.terms["h_gru"] == ref["h"][t, unit].item() and card.terms["h_diff"] == 0
    assert card.terms["keep"] == pytest.approx(z * h_prev) and card.terms["new"] == pytest.approx(
        (1 - z) * n)
    assert card.course["Γu"] == pytest.approx(1 - z)
    gru = model.module.gru
    W_hr = gru.weight_hh_l1[:16]
    products = (W_hr[unit] * ref["h_prev"][t]).detach()
    tables = contributions(tt, t, unit, layer=1)
    assert tables["hr"].j.tolist() == products.abs().topk(5).indices.tolist()
    x_t = h0[t]  # layer 1 reads layer 0's h: a dense x_t
    in_products = (gru.weight_ih_l1[32 + unit] * x_t).detach()
    assert tables["in"].j.tolist() == in_products.abs().topk(5).indices.tolist()
    assert card.one_hot_index is None  # layer 1 reads layer 0's h
    card0 = step_card(tt, t, unit, layer=0)
    k = VOCAB.index(TEXT[t])
    assert card0.one_hot_index == k
    assert card0.input_column["W_in"] == gru.weight_ih_l0[32 + unit, k].item()
    b_r = (gru.bias_ih_l0[unit] + gru.bias_hh_l0[unit]).item()
    assert card0.course["b_r"] == pytest.approx(b_r)


def test_balance_tables_and_heatmaps(model):
    tt = model.trace(TEXT)
    _, _, ref = plain(model, TEXT)
    w = slice(5, 25)
    df = balance(tt, 3, layer=1, steps=w)
    z, n, hp = (ref[k][w, 3].double().numpy() for k in ("z", "n", "h_prev"))
    np.testing.assert_allclose(df.keep, z * hp)
    np.testing.assert_allclose(df.new, (1 - z) * n)
    assert df.token.tolist() == list(TEXT[w]) and df.t.tolist() == list(range(5, 25))
    maps = heatmaps(tt, layer=1, steps=w)
    for name in ("r", "z", "n", "h"):
        np.testing.assert_array_equal(maps[name], ref[name][w].T.numpy())
    table = trace_table(tt, layer=1, units=[2, 7], steps=slice(0, 4))
    assert len(table) == 8 and table.unit.tolist() == [2, 7] * 4
    row = table[(table.t == 3) & (table.unit == 7)].iloc[0]
    assert row.r == ref["r"][3, 7].item() and row.token == TEXT[3]


def test_prediction_top_k_and_were_minus_was(model):
    tt = model.trace(TEXT[: TEXT.index(", w") + 3])
    with torch.no_grad():
        logits, _ = model.module(model.vocab.encode(tt.text).unsqueeze(1))
    probs = torch.softmax(logits[:, 0], -1)
    torch.testing.assert_close(tt.probs, probs)
    top = top_k(tt.probs[-1], tt.vocab, 3)
    order = probs[-1].argsort(descending=True)[:3]
    assert [tok for tok, _ in top] == [VOCAB[i] for i in order]
    e, a = VOCAB.index("e"), VOCAB.index("a")
    assert were_minus_was(tt) == pytest.approx((probs[-1, e] - probs[-1, a]).item(), abs=1e-6)


def test_reset_counterfactual_reruns_the_step_with_r_one(model):
    tt = model.trace(TEXT)
    x, h0, ref = plain(model, TEXT)
    t, gru = 12, model.module.gru
    cf = reset_counterfactual(tt, t, layer=0)
    W_in, W_hn = gru.weight_ih_l0[32:], gru.weight_hh_l0[32:]
    b_in, b_hn = gru.bias_ih_l0[32:], gru.bias_hh_l0[32:]
    with torch.no_grad():
        h_prev = h0[t - 1]
        n1 = torch.tanh(W_in @ x[t] + b_in + W_hn @ h_prev + b_hn)
        z = tt.gate("z", 0, steps=t)
        h_changed = (1 - z) * n1 + z * h_prev
        cell = torch.nn.GRUCell(16, 16)
        cell.load_state_dict({k[:-3]: v for k, v in gru.state_dict().items()
                              if k.endswith("_l1")})
        h1 = cell(h_changed.unsqueeze(0), ref["h_prev"][t].unsqueeze(0))[0]
        probs = torch.softmax(model.module.head(h1), -1)
    torch.testing.assert_close(cf.n_no_reset, n1, atol=1e-6, rtol=0)
    torch.testing.assert_close(cf.probs_no_reset, probs, atol=1e-6, rtol=0)
    assert cf.most_changed(3) == (cf.n - n1).abs().topk(3).indices.tolist()


def test_number_units_rank_the_clause_difference(model):
    pairs = [("The cat, which ate the fish, w", "The cats, which ate the fish, w"),
             ("The dog, which ran, w", "The dogs, which ran, w")]
    diffs = []
    for sg, pl in pairs:
        h_sg, h_pl = plain(model, sg)[1], plain(model, pl)[1]
        d = h_pl[pl.index(","):] - h_sg[sg.index(","):]
        torch.testing.assert_close(clause_difference(model, sg, pl), d, atol=0, rtol=0)
        diffs.append(d.mean(0))
    mean = torch.stack(diffs).mean(0)
    table = number_units(model, pairs)
    assert table.unit.tolist() == mean.abs().argsort(descending=True).tolist()
    np.testing.assert_allclose(table.difference, mean[table.unit].numpy(), rtol=1e-6)
    with pytest.raises(ValueError, match="minimal pair"):
        clause_difference(model, "The cat, which ran, w", "The cats, which sat, w")


def test_holders_direct_path_and_histogram(model):
    tt = model.trace(TEXT)
    z = tt.gate("z", 1).double().numpy()
    s, t = 4, 20
    ret = np.prod(z[s + 1 : t + 1], axis=0)
    df = holders(tt, s, t, layer=1)
    assert df.unit.tolist() == list(np.argsort(-ret, kind="stable"))
    np.testing.assert_allclose(df.retention, np.sort(ret)[::-1], rtol=1e-6)
    minz = z[s + 1 : t + 1].min(0)
    assert span_counts(df) == (int(((ret > 0.5) & (minz > 0.9)).sum()),
                               int((ret < 0.01).sum()))
    path = direct_path(tt, t, layer=1, since=s)
    curves = [np.prod(z[k + 1 : t + 1], axis=0) for k in range(s, t + 1)]
    np.testing.assert_allclose(path["max"], [c.max() for c in curves], rtol=1e-6)
    np.testing.assert_allclose(path["mean"], [c.mean() for c in curves], rtol=1e-6)
    assert path.distance.tolist() == list(range(t - s, -1, -1))
    hist = histogram(tt, "r", layer=0, bins=10)
    counts, _ = np.histogram(tt.gate("r", 0).double().numpy(), bins=10, range=(0, 1))
    np.testing.assert_allclose(hist.share, counts / counts.sum())


@pytest.mark.parametrize("below, above, verdict", [
    (0.4, 0.3, "mostly saturated"), (0.1, 0.05, "mostly grey"),
    (0.22, 0.32, "neither mostly saturated nor mostly grey"), (0.2, 0.1, "mostly grey"),
    (0.25, 0.25, "neither mostly saturated nor mostly grey"), (0.4, 0.3, "mostly saturated"),
    (0.2, 0.3, "neither mostly saturated nor mostly grey")])
def test_saturation_claim_states_the_fractions(below, above, verdict):
    f = {"below": below, "between": 1 - below - above, "above": above}
    claim = saturation_claim("z", f)
    assert claim.kind == verdict and verdict in claim.text
    assert f"{below:.0%} of values are below 0.1" in claim.text


def test_step_summary_counts_and_sentences(model):
    from gru_core import step_summary

    tt = model.trace(TEXT)
    _, _, ref = plain(model, TEXT)
    t = 21
    z, h, h_prev, n = (ref[k][t].double() for k in ("z", "h", "h_prev", "n"))
    s = step_summary(tt, t, layer=1)
    assert (s.kept, s.took) == (int((z > 0.9).sum()), int((z < 0.1).sum()))
    assert s.kept + s.took + s.mixed == 16
    most = int((h - h_prev).abs().argmax())
    assert s.changed.unit[0] == most and s.held.unit[0] == int(z.argmax())
    first = s.sentences()[0]
    assert first.startswith(f"unit {most}: z = {z[most]:.2f}, so h ")
    assert f"{h_prev[most]:.2f} → {h[most]:.2f}".replace("-", "−") in first
    course = s.sentences("course")[0]
    assert f"Γu = {1 - z[most]:.2f}" in course and ("c⟨t−1⟩" in course or "c̃" in course)
    assert "<t" not in course
    assert "1 units" not in s.headline() and s.headline().startswith(f"At t = {t}, ")


def test_what_if_against_an_independent_recurrence(model):
    from gru_core import what_if

    tt = model.trace(TEXT)
    x, h0, ref = plain(model, TEXT)
    gru, t, unit, K = model.module.gru, 9, 4, 6
    w = {k: getattr(gru, k) for k in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0",
                                      "bias_hh_l0", "weight_ih_l1", "weight_hh_l1",
                                      "bias_ih_l1", "bias_hh_l1")}

    def cell(x_t, h, layer, edit=None):
        """The GRU equations, written out once more; edit = (gate, unit, value)."""
        s = f"_l{layer}"
        gi = w["weight_ih" + s] @ x_t + w["bias_ih" + s]
        gh = w["weight_hh" + s] @ h + w["bias_hh" + s]
        r = torch.sigmoid(gi[:16] + gh[:16])
        z = torch.sigmoid(gi[16:32] + gh[16:32])
        if edit and edit[0] == "r":
            r = r.clone()
            r[edit[1]] = edit[2]
        if edit and edit[0] == "z":
            z = z.clone()
            z[edit[1]] = edit[2]
        n = torch.tanh(gi[32:] + r * gh[32:])
        return (1 - z) * n + z * h

    for gate, value, layer in (("z", 0.0, 0), ("r", 1.0, 0), ("z", 1.0, 1)):
        wi = what_if(tt, t, unit, gate, value, layer=layer, steps=K)
        with torch.no_grad():
            h = [h0[t - 1], ref["h"][t - 1]]  # layer 0, layer 1 before step t
            hs, outs = [], []
            for k in range(t, t + K + 1):
                edit = (gate, unit, value) if k == t else None
                h[0] = cell(x[k], h[0], 0, edit if layer == 0 else None)
                h[1] = cell(h[0], h[1], 1, edit if layer == 1 else None)
                hs.append(h[layer])
                outs.append(h[1])
            probs = torch.softmax(model.module.head(torch.stack(outs)), -1)
        torch.testing.assert_close(wi.h_what_if, torch.stack(hs), atol=1e-5, rtol=0)
        torch.testing.assert_close(wi.probs_what_if, probs, atol=1e-5, rtol=0)
        assert wi.steps == range(t, t + K + 1) and wi.drift[0] > 0
    same = what_if(tt, t, unit, "z", float(tt.gate("z", 0, steps=t)[unit]), steps=K)
    assert torch.equal(same.h_what_if, same.h)  # no edit: exactly the actual run
    # the layer above reruns nn.GRU over these steps only; nn.GRU's input product over K rows
    # rounds a few last bits differently from the product over the whole text
    torch.testing.assert_close(same.probs_what_if, same.probs, atol=1e-6, rtol=0)


def test_what_if_sentence_never_reads_two_different_values_as_one():
    from gru_core.analysis.whatif import instead

    assert instead(0.0912, 0.0934) == "0.091 instead of 0.093"
    assert instead(-0.5, -0.25) == "−0.50 instead of −0.25"
    assert instead(0.3, 0.3) == "0.30, unchanged"
    assert instead(0.123456781, 0.123456789) == "0.12345678 instead of 0.12345679"


def test_what_if_decisive_step_is_where_the_prediction_moves_most(model):
    """The default step of the what-if's prediction: the largest total variation between the
    actual and the edited next-token distributions, each recomputed here from the probs."""
    from gru_core import what_if

    tt = model.trace(TEXT)
    t, unit, K = 3, 4, 8
    wi = what_if(tt, t, unit, "z", 0.0, steps=K)
    tv = [0.5 * float((wi.probs_what_if[k] - tt.probs[t + k]).abs().sum()) for k in range(K + 1)]
    best = t + max(range(K + 1), key=tv.__getitem__)
    assert wi.decisive_step() == best and tv[best - t] > 0
    np.testing.assert_allclose(wi.shift.numpy(), tv, atol=1e-6)
    # no edit: nothing moves by more than the layer above's last bits
    same = what_if(tt, t, unit, "z", float(tt.gate("z", 0, steps=t)[unit]), steps=K)
    assert float(same.shift.max()) < 1e-5
    sentence = wi.describe_at(best, tt.vocab.tokens)
    assert f"After t = {best}, " in sentence and f"{tv[best - t]:.3f}" in sentence
    now = tt.vocab.tokens[int(wi.probs_what_if[best - t].argmax())]
    assert repr(now) in sentence
