# tessera.core.compile(fun, inputs=, outputs=): implicit state (a model's parameters, an optimizer's
# state) read before and replaced after each compiled call, as MLX's mx.compile.
from functools import partial

import numpy as np
import pytest

import tessera.core as tx
import tessera.nn as nn
import tessera.optimizers as optim
from tessera.utils import tree_flatten


def make_data(seed=0, n=64):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 4)).astype(np.float32)
    w = rng.standard_normal((4, 1)).astype(np.float32)
    y = np.tanh(x @ w) + 0.01 * rng.standard_normal((n, 1)).astype(np.float32)
    return tx.array(x), tx.array(y)


def make_model(seed):
    tx.random.seed(seed)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 1))
    tx.eval(model.parameters())
    return model


def train(compiled, opt_cls, steps=25, **opt_kw):
    x, y = make_data()
    model = make_model(3)
    optimizer = opt_cls(**opt_kw)

    def loss_fn(model, x, y):
        return nn.losses.mse_loss(model(x), y)

    loss_and_grad = nn.value_and_grad(model, loss_fn)

    traces = []

    def step(x, y):
        traces.append(1)
        loss, grads = loss_and_grad(model, x, y)
        optimizer.update(model, grads)
        return loss

    if compiled:
        state = [model.state, optimizer.state]
        step = tx.compile(step, inputs=state, outputs=state)
    losses = []
    for _ in range(steps):
        loss = step(x, y)
        tx.eval(loss, model.parameters(), optimizer.state)
        losses.append(loss.item())
    # Compiled: traced once with the optimizer's state empty and once with it created, then replayed.
    assert len(traces) == (2 if compiled else steps)
    return losses, model, optimizer


@pytest.mark.parametrize("opt_cls, kw", [(optim.SGD, {"learning_rate": 0.1, "momentum": 0.9}),
                                         (optim.Adam, {"learning_rate": 0.01}),
                                         (optim.AdamW, {"learning_rate": 0.01, "weight_decay": 0.1})])
def test_compiled_training_step_matches_uncompiled(opt_cls, kw):
    plain, m1, o1 = train(False, opt_cls, **kw)
    comp, m2, o2 = train(True, opt_cls, **kw)
    assert comp[-1] < 0.5 * comp[0]  # the loss falls
    np.testing.assert_allclose(comp, plain, rtol=1e-4, atol=1e-6)
    for (k1, a), (k2, b) in zip(tree_flatten(m1.parameters()), tree_flatten(m2.parameters())):
        assert k1 == k2
        np.testing.assert_allclose(np.array(b), np.array(a), rtol=1e-4, atol=1e-6)
    # The optimizer's step counter and per-parameter state advanced as without compile.
    assert o2.state["step"].item() == o1.state["step"].item() == 25
    s1, s2 = dict(tree_flatten(o1.state)), dict(tree_flatten(o2.state))
    assert s1.keys() == s2.keys()
    for k in s1:
        np.testing.assert_allclose(np.array(s2[k]), np.array(s1[k]), rtol=1e-4, atol=1e-6)


def test_compiled_step_traces_once_per_structure():
    calls = []
    state = {"w": tx.array([1.0, 2.0]), "n": tx.array(0)}

    @partial(tx.compile, inputs=state, outputs=state)
    def step(x):
        calls.append(1)
        state["w"] = state["w"] * x
        state["n"] = state["n"] + 1
        return state["w"].sum()

    for i in range(4):
        s = step(tx.array(2.0))
        assert s.item() == 3.0 * 2 ** (i + 1)
    assert state["n"].item() == 4
    np.testing.assert_array_equal(np.array(state["w"]), [16.0, 32.0])
    assert len(calls) == 1  # traced once, replayed three times; state arrays are not constants
    assert not any("Tracer" in repr(type(v)) for v in state.values())


def test_inputs_only_state_is_read_fresh_each_call():
    params = {"scale": tx.array(2.0)}
    f = tx.compile(lambda x: x * params["scale"], inputs=params)
    assert f(tx.array(3.0)).item() == 6.0
    params["scale"] = tx.array(5.0)  # not a constant of the trace: read again on the next call
    assert f(tx.array(3.0)).item() == 15.0


def test_state_is_restored_when_fun_raises():
    state = {"w": tx.array(1.0)}

    def bad(x):
        state["w"] = state["w"] + x
        raise RuntimeError("boom")

    f = tx.compile(bad, inputs=state, outputs=state)
    with pytest.raises(RuntimeError, match="boom"):
        f(tx.array(1.0))
    assert state["w"].item() == 1.0  # the array from before the call, not a tracer


def test_bad_state_trees_raise():
    with pytest.raises(ValueError, match="compile"):
        tx.compile(lambda x: x, inputs=tx.array(1.0))
    state = ({"a": tx.array(1.0)}, tx.array(2.0))  # an array directly in a tuple cannot be replaced
    f = tx.compile(lambda x: x + 1, inputs=state, outputs=state)
    with pytest.raises(ValueError, match="tuple"):
        f(tx.array(1.0))


def test_step_dependent_optimizer_is_refused():
    model = make_model(0)
    optimizer = optim.Adam(learning_rate=0.01, bias_correction=True)
    x, y = make_data()
    loss_and_grad = nn.value_and_grad(model, lambda m, x, y: nn.losses.mse_loss(m(x), y))

    def step(x, y):
        loss, grads = loss_and_grad(model, x, y)
        optimizer.update(model, grads)
        return loss

    state = [model.state, optimizer.state]
    f = tx.compile(step, inputs=state, outputs=state)
    with pytest.raises(ValueError, match="step"):
        f(x, y)
