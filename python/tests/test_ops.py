"""Module-level ops against NumPy: elementwise, reductions, scans, shapes, creation, sorting."""

import numpy as np
import pytest

import tessera.core as tx

SHAPES = [(), (5,), (3, 4), (2, 3, 4)]

UNARY = {
    "abs": np.abs, "negative": np.negative, "sign": np.sign, "square": np.square, "exp": np.exp,
    "expm1": np.expm1, "log": np.log, "log1p": np.log1p, "log2": np.log2, "log10": np.log10,
    "sqrt": np.sqrt, "rsqrt": lambda x: 1 / np.sqrt(x), "reciprocal": np.reciprocal, "sin": np.sin,
    "cos": np.cos, "tan": np.tan, "arcsin": np.arcsin, "arccos": np.arccos, "arctan": np.arctan,
    "sinh": np.sinh, "cosh": np.cosh, "tanh": np.tanh, "arcsinh": np.arcsinh,
    "arccosh": np.arccosh, "arctanh": np.arctanh, "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
    "floor": np.floor, "ceil": np.ceil, "isnan": np.isnan, "isinf": np.isinf, "isfinite": np.isfinite,
    "logical_not": np.logical_not, "round": np.round,
}
POSITIVE = {"log", "log1p", "log2", "log10", "sqrt", "rsqrt"}
UNIT = {"arcsin", "arccos", "arctanh"}


def sample(rng, shape, name=""):
    x = rng.standard_normal(shape).astype(np.float32)
    if name in POSITIVE:
        x = np.abs(x) + 0.1
    if name in UNIT:
        x = np.tanh(x) * 0.9
    if name == "arccosh":
        x = np.abs(x)
    return x


@pytest.mark.parametrize("name", sorted(UNARY))
@pytest.mark.parametrize("shape", SHAPES)
def test_unary_float32(name, shape, rng):
    x = sample(rng, shape, name)
    if name == "arccosh":
        got, want = tx.arccosh(tx.array(x + 1)), np.arccosh(x + 1)
    else:
        got, want = getattr(tx, name)(tx.array(x)), UNARY[name](x)
    assert got.shape == want.shape
    np.testing.assert_allclose(np.array(got), want, rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("name", ["exp", "sqrt", "abs", "square", "sin"])
@pytest.mark.parametrize("dtype", [np.float16, np.float64])
def test_unary_other_float_dtypes(name, dtype, rng):
    x = np.abs(rng.standard_normal((4, 6))).astype(dtype)
    got = getattr(tx, name)(tx.array(x))
    assert got.dtype == {np.float16: tx.float16, np.float64: tx.float64}[dtype]
    tol = 2e-3 if dtype == np.float16 else 1e-12
    np.testing.assert_allclose(np.array(got), UNARY[name](x), rtol=tol, atol=tol)


def test_unary_on_views(rng):
    x = rng.standard_normal((6, 8)).astype(np.float32)
    a = tx.array(x)
    np.testing.assert_allclose(np.array(tx.exp(a.T)), np.exp(x.T), rtol=1e-6)
    np.testing.assert_allclose(np.array(tx.abs(a[::2, 1::3])), np.abs(x[::2, 1::3]))
    np.testing.assert_allclose(np.array(tx.tanh(tx.broadcast_to(a[0], (3, 8)))), np.tanh(np.broadcast_to(x[0], (3, 8))), rtol=1e-6)


def test_int_math_promotes_to_float32():
    a = tx.array([1, 4, 9])
    assert tx.sqrt(a).dtype == tx.float32
    np.testing.assert_allclose(np.array(tx.sqrt(a)), [1, 2, 3])
    assert tx.exp(1.0).dtype == tx.float32  # Python scalars are accepted


BINARY = {
    "add": np.add, "subtract": np.subtract, "multiply": np.multiply, "divide": np.divide,
    "maximum": np.maximum, "minimum": np.minimum, "power": np.power, "logaddexp": np.logaddexp,
    "arctan2": np.arctan2, "equal": np.equal, "not_equal": np.not_equal, "less": np.less,
    "less_equal": np.less_equal, "greater": np.greater, "greater_equal": np.greater_equal,
    "logical_and": np.logical_and, "logical_or": np.logical_or,
}
BCAST = [((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 1, 4), (3, 1)), ((), (5,)), ((1, 5), (4, 1))]


@pytest.mark.parametrize("name", sorted(BINARY))
@pytest.mark.parametrize("shapes", BCAST)
def test_binary_broadcasting(name, shapes, rng):
    x = rng.standard_normal(shapes[0]).astype(np.float32)
    y = rng.standard_normal(shapes[1]).astype(np.float32)
    if name == "power":
        x = np.abs(x) + 0.5
    got = getattr(tx, name)(tx.array(x), tx.array(y))
    want = BINARY[name](x, y)
    assert got.shape == want.shape
    np.testing.assert_allclose(np.array(got), want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name,ref", [("floor_divide", np.floor_divide), ("remainder", np.remainder),
                                      ("bitwise_and", np.bitwise_and), ("bitwise_or", np.bitwise_or),
                                      ("bitwise_xor", np.bitwise_xor), ("left_shift", np.left_shift),
                                      ("right_shift", np.right_shift), ("maximum", np.maximum)])
@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.uint8])
def test_binary_integers(name, ref, dtype, rng):
    x = rng.integers(0, 100, (4, 5)).astype(dtype)
    y = rng.integers(1, 7, (5,)).astype(dtype)
    got = getattr(tx, name)(tx.array(x), tx.array(y))
    np.testing.assert_array_equal(np.array(got), ref(x, y))
    assert np.array(got).dtype == ref(x, y).dtype


def test_mixed_dtype_promotion():
    a = tx.array(np.arange(4, dtype=np.int32))
    b = tx.array(np.ones(4, dtype=np.float16))
    assert (a + b).dtype == tx.float16 or (a + b).dtype == np.result_type(np.int32, np.float16).name
    assert tx.add(tx.array([1], tx.uint8), tx.array([1], tx.int8)).dtype == tx.int16
    assert tx.promote_types(tx.float16, tx.bfloat16) == tx.float32


def test_where_clip_isclose(rng):
    x = rng.standard_normal((3, 4)).astype(np.float32)
    a = tx.array(x)
    np.testing.assert_array_equal(np.array(tx.where(a > 0, a, 0.0)), np.where(x > 0, x, 0))
    np.testing.assert_array_equal(np.array(tx.clip(a, -0.5, 0.5)), np.clip(x, -0.5, 0.5))
    np.testing.assert_array_equal(np.array(tx.clip(a, None, 0.1)), np.minimum(x, np.float32(0.1)))
    y = x + 1e-7
    np.testing.assert_array_equal(np.array(tx.isclose(a, tx.array(y))), np.isclose(x, y, rtol=1e-5, atol=1e-8))
    assert tx.allclose(a, tx.array(y)).item() is True
    assert tx.allclose(a, a + 1).item() is False
    assert tx.array_equal(a, tx.array(x)).item() is True
    assert tx.array_equal(a, a[:2]).item() is False
    q, r = tx.divmod(tx.array([7, -7]), 3)
    assert q.tolist() == [2, -3] and r.tolist() == [1, 2]


REDUCE = {"sum": np.sum, "prod": np.prod, "max": np.max, "min": np.min, "mean": np.mean,
          "all": np.all, "any": np.any, "var": np.var, "std": np.std}
AXES = [None, 0, -1, [0, 1], (1,)]


@pytest.mark.parametrize("name", sorted(REDUCE))
@pytest.mark.parametrize("axis", AXES, ids=str)
@pytest.mark.parametrize("keepdims", [False, True])
def test_reductions(name, axis, keepdims, rng):
    x = (rng.standard_normal((3, 4, 5)) * 0.8).astype(np.float32)
    if name in ("all", "any"):
        x = (x > 0.3).astype(np.float32)
    got = getattr(tx, name)(tx.array(x), axis=axis, keepdims=keepdims)
    np_axis = tuple(axis) if isinstance(axis, (list, tuple)) else axis
    want = REDUCE[name](x, axis=np_axis, keepdims=keepdims)
    assert got.shape == np.shape(want)
    np.testing.assert_allclose(np.array(got), want, rtol=1e-4, atol=1e-5)
    method = getattr(tx.array(x), name)(axis=axis, keepdims=keepdims)
    np.testing.assert_allclose(np.array(method), want, rtol=1e-4, atol=1e-5)


def test_reduction_dtypes_and_ddof(rng):
    x = rng.integers(-5, 5, (4, 6)).astype(np.int8)
    assert tx.sum(tx.array(x)).dtype == tx.int32
    assert tx.mean(tx.array(x)).dtype == tx.float32
    y = rng.standard_normal((5, 7)).astype(np.float32)
    np.testing.assert_allclose(np.array(tx.var(tx.array(y), axis=1, ddof=1)), np.var(y, axis=1, ddof=1), rtol=1e-5)
    lse = np.log(np.sum(np.exp(y), axis=0))
    np.testing.assert_allclose(np.array(tx.logsumexp(tx.array(y), axis=0)), lse, rtol=1e-5)


@pytest.mark.parametrize("name", ["argmax", "argmin"])
@pytest.mark.parametrize("axis", [None, 0, 1, -1])
def test_arg_reductions(name, axis, rng):
    x = rng.standard_normal((4, 7)).astype(np.float32)
    got = getattr(tx, name)(tx.array(x), axis=axis)
    want = getattr(np, name)(x, axis=axis)
    np.testing.assert_array_equal(np.array(got), want)
    assert got.dtype == tx.uint32
    assert getattr(tx, name)(tx.array(x), axis=axis, keepdims=True).ndim == (2 if axis is not None else 2)


@pytest.mark.parametrize("name,ref", [("cumsum", np.cumsum), ("cumprod", np.cumprod),
                                      ("cummax", np.maximum.accumulate), ("cummin", np.minimum.accumulate)])
@pytest.mark.parametrize("axis", [None, 0, 1])
def test_scans(name, ref, axis, rng):
    x = (rng.standard_normal((3, 5)) * 0.5 + 1).astype(np.float32)
    got = getattr(tx, name)(tx.array(x), axis=axis)
    want = ref(x.reshape(-1) if axis is None else x, axis=0 if axis is None else axis)
    np.testing.assert_allclose(np.array(got), want, rtol=1e-5)


def test_scan_flags():
    a = tx.array([1, 2, 3, 4])
    assert tx.cumsum(a, reverse=True).tolist() == [10, 9, 7, 4]
    assert tx.cumsum(a, inclusive=False).tolist() == [0, 1, 3, 6]
    assert a.cumsum(axis=0, reverse=True, inclusive=False).tolist() == [9, 7, 4, 0]


def test_softmax(rng):
    x = rng.standard_normal((3, 5)).astype(np.float32)
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    np.testing.assert_allclose(np.array(tx.softmax(tx.array(x), axis=-1)), e / e.sum(-1, keepdims=True), rtol=1e-5)
    ea = np.exp(x - x.max())
    np.testing.assert_allclose(np.array(tx.softmax(tx.array(x))), ea / ea.sum(), rtol=1e-5)
    np.testing.assert_allclose(np.array(tx.log_softmax(tx.array(x), axis=1)),
                               np.log(e / e.sum(-1, keepdims=True)), rtol=1e-5, atol=1e-6)


def test_shape_ops(rng):
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    a = tx.array(x)
    cases = [
        (tx.reshape(a, [6, 4]), x.reshape(6, 4)), (tx.reshape(a, -1), x.reshape(-1)),
        (a.reshape(4, -1), x.reshape(4, -1)), (a.reshape((3, 8)), x.reshape(3, 8)),
        (tx.flatten(a), x.reshape(-1)), (tx.flatten(a, 1), x.reshape(2, 12)),
        (tx.transpose(a), x.T), (tx.transpose(a, [1, 0, 2]), x.transpose(1, 0, 2)),
        (a.transpose(2, 0, 1), x.transpose(2, 0, 1)), (a.T, x.T),
        (tx.swapaxes(a, 0, 2), x.swapaxes(0, 2)), (tx.moveaxis(a, 0, -1), np.moveaxis(x, 0, -1)),
        (tx.expand_dims(a, 1), x[:, None]), (tx.expand_dims(a, [0, 4]), x[None, :, :, :, None]),
        (tx.squeeze(tx.array(x[:, :1])), x[:, :1].squeeze()), (tx.squeeze(tx.array(x[:1]), 0), x[0]),
        (tx.broadcast_to(tx.array(x[0, 0]), (3, 4)), np.broadcast_to(x[0, 0], (3, 4))),
        (tx.concatenate([a, a], axis=1), np.concatenate([x, x], 1)),
        (tx.concatenate([a, a], axis=None), np.concatenate([x.ravel(), x.ravel()])),
        (tx.stack([a, a], axis=-1), np.stack([x, x], -1)), (tx.tile(a, [1, 2, 1]), np.tile(x, (1, 2, 1))),
        (tx.repeat(a, 2, axis=1), np.repeat(x, 2, 1)), (tx.repeat(a, 2), np.repeat(x, 2)),
        (tx.pad(a, 1), np.pad(x, 1)), (tx.pad(a, [(0, 1), (1, 0), (2, 2)]), np.pad(x, [(0, 1), (1, 0), (2, 2)])),
        (tx.pad(a, (1, 2), constant_values=3.0), np.pad(x, (1, 2), constant_values=3)),
        (tx.pad(a, 1, mode="edge"), np.pad(x, 1, mode="edge")),
        (tx.roll(a, 2), np.roll(x, 2)), (tx.roll(a, 1, axis=2), np.roll(x, 1, 2)),
        (tx.roll(a, [1, 2], axis=[0, 2]), np.roll(x, (1, 2), (0, 2))),
        (tx.flip(a, 1), np.flip(x, 1)), (tx.flip(a), np.flip(x)),
        (tx.diagonal(a, 1, 1, 2), np.diagonal(x, 1, 1, 2)), (tx.diag(a[0]), np.diag(x[0])),
        (tx.diag(tx.array(x[0, 0])), np.diag(x[0, 0])), (tx.tril(a), np.tril(x)), (tx.triu(a, 1), np.triu(x, 1)),
        (tx.as_strided(a, [3, 2], [1, 4]), np.lib.stride_tricks.as_strided(x, (3, 2), (4, 16))),
    ]
    for got, want in cases:
        assert got.shape == want.shape
        np.testing.assert_array_equal(np.array(got), want)
    parts = tx.split(a, 2, axis=2)
    assert len(parts) == 2 and np.array_equal(np.array(parts[1]), x[:, :, 2:])
    parts = tx.split(a, [1, 3], axis=2)
    for got, want in zip(parts, np.split(x, [1, 3], axis=2)):
        np.testing.assert_array_equal(np.array(got), want)
    b0, b1 = tx.broadcast_arrays(tx.array(x[:, :1]), tx.array(x[0]))
    assert b0.shape == b1.shape == (2, 3, 4)


def test_dynamic_slice():
    a = tx.arange(12).reshape(3, 4)
    got = tx.slice(a, tx.array([1, 1]), [0, 1], [2, 2])
    assert got.tolist() == [[5, 6], [9, 10]]
    upd = tx.slice_update(a, tx.zeros((2, 2), tx.int32), tx.array([0, 2]), [0, 1])
    assert upd.tolist() == [[0, 1, 0, 0], [4, 5, 0, 0], [8, 9, 10, 11]]


def test_astype_copy(rng):
    x = rng.standard_normal((3, 3)).astype(np.float32) * 10
    for dt, nd in [(tx.int32, np.int32), (tx.float16, np.float16), (tx.uint8, np.uint8), (tx.float64, np.float64)]:
        got = tx.astype(tx.array(np.abs(x)), dt)
        assert got.dtype == dt
        np.testing.assert_array_equal(np.array(got), np.abs(x).astype(nd))
    np.testing.assert_array_equal(np.array(tx.copy(tx.array(x))), x)
    np.testing.assert_array_equal(np.array(tx.contiguous(tx.array(x).T)), x.T)


def test_creation():
    np.testing.assert_array_equal(np.array(tx.zeros((2, 3))), np.zeros((2, 3), np.float32))
    assert tx.zeros(3, dtype=tx.int32).dtype == tx.int32
    np.testing.assert_array_equal(np.array(tx.ones([2], tx.float16)), np.ones(2, np.float16))
    np.testing.assert_array_equal(np.array(tx.full((2, 2), 7)), np.full((2, 2), 7, np.int32))
    assert tx.full((2, 2), 7).dtype == tx.int32
    assert tx.full((2,), 1.5, dtype=tx.float16).dtype == tx.float16
    np.testing.assert_array_equal(np.array(tx.full((2, 3), tx.array([1.0, 2, 3]))), np.tile([1, 2, 3], (2, 1)))
    a = tx.array([[1, 2], [3, 4]], dtype=tx.float32)
    assert tx.zeros_like(a).tolist() == [[0, 0], [0, 0]] and tx.ones_like(a).dtype == tx.float32
    assert tx.full_like(a, 9).tolist() == [[9, 9], [9, 9]] and tx.full_like(a, 9).dtype == tx.float32
    assert tx.arange(5).tolist() == [0, 1, 2, 3, 4] and tx.arange(5).dtype == tx.int32
    assert tx.arange(1, 10, 3).tolist() == [1, 4, 7]
    assert tx.arange(0.0, 1.0, 0.25).dtype == tx.float32
    np.testing.assert_allclose(np.array(tx.arange(0, 1, 0.25)), np.arange(0, 1, 0.25))
    assert tx.arange(4, dtype=tx.float64).dtype == tx.float64
    np.testing.assert_allclose(np.array(tx.linspace(0, 1, 5)), np.linspace(0, 1, 5))
    np.testing.assert_array_equal(np.array(tx.eye(3, 4, 1)), np.eye(3, 4, 1))
    np.testing.assert_array_equal(np.array(tx.identity(3)), np.eye(3))
    np.testing.assert_array_equal(np.array(tx.tri(3, k=-1)), np.tri(3, k=-1))


@pytest.mark.parametrize("axis", [None, 0, 1, -1])
def test_sorting(axis, rng):
    x = rng.standard_normal((5, 6)).astype(np.float32)
    a = tx.array(x)
    np.testing.assert_array_equal(np.array(tx.sort(a, axis=axis)), np.sort(x, axis=axis))
    np.testing.assert_array_equal(np.array(tx.argsort(a, axis=axis)), np.argsort(x, axis=axis, kind="stable"))
    k = 2
    part = np.array(tx.partition(a, k, axis=axis))
    ref = np.sort(x, axis=axis)
    np.testing.assert_array_equal(np.take(part, k, axis=0 if axis is None else axis),
                                  np.take(ref, k, axis=0 if axis is None else axis))
    ip = np.array(tx.argpartition(a, k, axis=axis))
    vals = np.take_along_axis(x.reshape(-1) if axis is None else x, ip.astype(np.int64), axis=0 if axis is None else axis)
    np.testing.assert_array_equal(np.take(vals, k, axis=0 if axis is None else axis),
                                  np.take(ref, k, axis=0 if axis is None else axis))
    top = np.sort(np.array(tx.topk(a, 3, axis=axis)), axis=-1 if axis is None else axis)
    want = np.sort(x.reshape(-1) if axis is None else x, axis=-1 if axis is None else axis)
    want = np.take(want, range(want.shape[-1 if axis is None else axis] - 3, want.shape[-1 if axis is None else axis]),
                   axis=-1 if axis is None else axis)
    np.testing.assert_array_equal(top, want)


def test_conv_against_numpy(rng):
    x = rng.standard_normal((2, 9, 3)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3)).astype(np.float32)
    got = np.array(tx.conv1d(tx.array(x), tx.array(w), stride=2, padding=1))
    xp = np.pad(x, ((0, 0), (1, 1), (0, 0)))
    want = np.stack([np.einsum("nkc,okc->no", xp[:, i:i + 3], w) for i in range(0, xp.shape[1] - 2, 2)], 1)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    x2 = rng.standard_normal((1, 5, 6, 2)).astype(np.float32)
    w2 = rng.standard_normal((3, 2, 3, 2)).astype(np.float32)
    got2 = np.array(tx.conv2d(tx.array(x2), tx.array(w2), stride=(1, 2)))
    want2 = np.zeros((1, 4, 2, 3), np.float32)
    for i in range(4):
        for j in range(2):
            want2[0, i, j] = np.einsum("hwc,ohwc->o", x2[0, i:i + 2, 2 * j:2 * j + 3], w2)
    np.testing.assert_allclose(got2, want2, rtol=1e-4, atol=1e-5)
    x3 = rng.standard_normal((1, 3, 3, 3, 1)).astype(np.float32)
    w3 = rng.standard_normal((2, 3, 3, 3, 1)).astype(np.float32)
    got3 = np.array(tx.conv3d(tx.array(x3), tx.array(w3)))
    np.testing.assert_allclose(got3.reshape(2), np.einsum("dhwc,odhwc->o", x3[0], w3), rtol=1e-4)


def test_stream_argument_accepts_device_and_stream():
    a = tx.array([1.0, 2.0])
    s = tx.new_stream(tx.cpu)
    for st in [tx.cpu, tx.Device(tx.cpu), s, tx.default_stream(tx.cpu)]:
        assert tx.add(a, a, stream=st).tolist() == [2.0, 4.0]
        assert tx.sum(a, stream=st).item() == 3.0
    with pytest.raises(TypeError):
        tx.add(a, a, stream="cpu")
