"""tessera.optimizers: a few steps of each optimizer against its formula in NumPy, schedules, clipping."""

import math

import numpy as np
import pytest

import tessera.core as mx
import tessera.nn as nn
import tessera.optimizers as optim

P0 = np.array([[0.5, -1.0, 2.0], [0.1, 0.0, -0.3]])
GRADS = [np.array([[0.1, -0.2, 0.3], [0.0, 0.5, -1.0]]) * (k + 1) for k in range(3)]


def run(opt, steps=3):
    params = {"w": mx.array(P0.astype(np.float32))}
    for g in GRADS[:steps]:
        params = opt.apply_gradients({"w": mx.array(g.astype(np.float32))}, params)
    return np.array(params["w"])


def check(opt, ref):
    np.testing.assert_allclose(run(opt), ref, rtol=1e-5, atol=1e-6)


def test_sgd_momentum_nesterov_weight_decay():
    lr, mom, wd = 0.1, 0.9, 0.01
    p, v = P0.copy(), np.zeros_like(P0)
    for g in GRADS:
        g = g + wd * p
        v = mom * v + g
        p = p - lr * (g + mom * v)
    check(optim.SGD(learning_rate=lr, momentum=mom, weight_decay=wd, nesterov=True), p)
    p = P0 - 0.1 * sum(GRADS)
    check(optim.SGD(learning_rate=0.1), p)
    with pytest.raises(ValueError):
        optim.SGD(0.1, momentum=0.0, nesterov=True)


@pytest.mark.parametrize("bias_correction", [False, True])
def test_adam_and_adamw(bias_correction):
    lr, b1, b2, eps, wd = 0.01, 0.9, 0.999, 1e-8, 0.1
    for decay in (0.0, wd):
        p, m, v = P0.copy(), np.zeros_like(P0), np.zeros_like(P0)
        for t, g in enumerate(GRADS, 1):
            p = p * (1 - lr * decay)
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g * g
            if bias_correction:
                p = p - (lr / (1 - b1**t)) * m / (np.sqrt(v) / math.sqrt(1 - b2**t) + eps)
            else:
                p = p - lr * m / (np.sqrt(v) + eps)
        if decay == 0:
            opt = optim.Adam(learning_rate=lr, bias_correction=bias_correction)
        else:
            opt = optim.AdamW(learning_rate=lr, weight_decay=wd, bias_correction=bias_correction)
        check(opt, p)


def test_adamax_lion_rmsprop_adagrad():
    lr = 0.01
    p, m, v = P0.copy(), np.zeros_like(P0), np.zeros_like(P0)
    for g in GRADS:
        m = 0.9 * m + 0.1 * g
        v = np.maximum(0.999 * v, np.abs(g))
        p = p - lr * m / (v + 1e-8)
    check(optim.Adamax(learning_rate=lr), p)
    p, m = P0.copy(), np.zeros_like(P0)
    for g in GRADS:
        c = 0.9 * m + 0.1 * g
        m = 0.99 * m + 0.01 * g
        p = p * (1 - lr * 0.1) - lr * np.sign(c)
    check(optim.Lion(learning_rate=lr, weight_decay=0.1), p)
    p, v = P0.copy(), np.zeros_like(P0)
    for g in GRADS:
        v = 0.9 * v + 0.1 * g * g
        p = p - lr * g / (np.sqrt(v) + 1e-8)
    check(optim.RMSprop(learning_rate=lr, alpha=0.9), p)
    p, v = P0.copy(), np.zeros_like(P0)
    for g in GRADS:
        v = v + g * g
        p = p - lr * g / (np.sqrt(v) + 1e-8)
    check(optim.Adagrad(learning_rate=lr), p)


def test_adafactor_vector_relative_step():
    p = np.array([0.5, -1.0, 2.0, 0.25])
    v = np.zeros_like(p)
    gs = [np.array([0.1, -0.2, 0.3, 0.05]) * k for k in (1, 2)]
    for t, g in enumerate(gs, 1):
        rms = lambda a: math.sqrt((a * a).mean())  # noqa: E731
        lr_t = min(1e-2, 1 / math.sqrt(t)) * max(1e-3, rms(p))
        beta2 = 1 - t ** (-0.8)
        v = beta2 * v + (1 - beta2) * (g * g + 1e-30)
        u = g / np.sqrt(v)
        u = u / max(1.0, rms(u) / 1.0)
        p = p - lr_t * u
    params = {"w": mx.array(np.array([0.5, -1.0, 2.0, 0.25], np.float32))}
    opt = optim.Adafactor()
    for g in gs:
        params = opt.apply_gradients({"w": mx.array(g.astype(np.float32))}, params)
    np.testing.assert_allclose(np.array(params["w"]), p, rtol=1e-5, atol=1e-6)


def test_update_model_state_and_init():
    model = nn.Linear(3, 2)
    w0 = np.array(model.weight)
    grads = {"weight": mx.ones((2, 3)), "bias": mx.ones((2,))}
    opt = optim.Adam(learning_rate=0.1)
    opt.init(model.trainable_parameters())
    assert set(opt.state["weight"]) == {"m", "v"}
    opt.update(model, grads)
    np.testing.assert_allclose(np.array(model.weight), w0 - 0.1 * 0.1 / (math.sqrt(0.001) + 1e-8), rtol=1e-5, atol=1e-5)
    assert int(opt.step) == 1 and int(opt.state["step"]) == 1
    np.testing.assert_allclose(np.array(opt.state["weight"]["m"]), np.full((2, 3), 0.1), rtol=1e-6)
    opt.learning_rate = 0.5
    assert float(opt.learning_rate) == 0.5
    with pytest.raises(Exception):
        opt.apply_gradients({"nope": mx.ones((2,))}, model.parameters())


def test_schedules():
    s = optim.exponential_decay(0.1, 0.9)
    np.testing.assert_allclose(float(s(3)), 0.1 * 0.9**3, rtol=1e-6)
    s = optim.step_decay(0.1, 0.5, 10)
    np.testing.assert_allclose(float(s(25)), 0.1 * 0.25, rtol=1e-6)
    s = optim.cosine_decay(0.1, 100, 0.01)
    np.testing.assert_allclose(float(s(30)), 0.01 + 0.5 * (1 + math.cos(math.pi * 0.3)) * 0.09, rtol=1e-6)
    np.testing.assert_allclose(float(s(500)), 0.01, rtol=1e-6)
    warm = optim.linear_schedule(0.0, 0.1, 10)
    np.testing.assert_allclose(float(warm(4)), 0.04, rtol=1e-6)
    j = optim.join_schedules([warm, optim.cosine_decay(0.1, 100)], [10])
    np.testing.assert_allclose(float(j(5)), 0.05, rtol=1e-6)
    np.testing.assert_allclose(float(j(60)), 0.05 * (1 + math.cos(math.pi * 0.5)), rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError):
        optim.join_schedules([warm], [10])
    # An optimizer evaluates its schedule (or a Python callable) at the current step.
    opt = optim.SGD(learning_rate=optim.exponential_decay(1.0, 0.5))
    lrs = []
    params = {"w": mx.zeros((1,))}
    for _ in range(3):
        params = opt.apply_gradients({"w": mx.ones((1,))}, params)
        lrs.append(float(opt.learning_rate))
    assert lrs == [1.0, 0.5, 0.25]
    np.testing.assert_allclose(np.array(params["w"]), [-1.75])
    opt = optim.SGD(learning_rate=lambda step: mx.array(0.1) * (step + 1))
    params = opt.apply_gradients({"w": mx.ones((1,))}, {"w": mx.zeros((1,))})
    params = opt.apply_gradients({"w": mx.ones((1,))}, params)
    np.testing.assert_allclose(np.array(params["w"]), [-0.3], rtol=1e-6)


def test_clip_grad_norm():
    g = {"a": mx.array([3.0, 4.0]), "b": [mx.array([12.0])]}
    clipped, norm = optim.clip_grad_norm(g, 6.5)
    assert float(norm) == pytest.approx(13.0)
    np.testing.assert_allclose(np.array(clipped["a"]), np.array([3.0, 4.0]) * 6.5 / (13 + 1e-6), rtol=1e-6)
    np.testing.assert_allclose(np.array(clipped["b"][0]), [12.0 * 6.5 / (13 + 1e-6)], rtol=1e-6)
    same, _ = optim.clip_grad_norm(g, 100.0)
    np.testing.assert_array_equal(np.array(same["a"]), [3.0, 4.0])
