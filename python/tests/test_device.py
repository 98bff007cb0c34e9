"""Devices, streams, eval/async_eval and the memory functions."""

import numpy as np

import tessera.core as tx


def test_devices():
    assert tx.Device(tx.cpu) == tx.cpu
    assert tx.Device(tx.cpu).type == tx.cpu and tx.Device(tx.cpu, 0).index == 0
    assert repr(tx.Device(tx.cpu)) == "Device(cpu, 0)"
    assert tx.is_available(tx.Device(tx.cpu))
    d = tx.default_device()
    assert isinstance(d, tx.Device)
    tx.set_default_device(tx.cpu)
    assert tx.default_device() == tx.Device(tx.cpu)
    tx.set_default_device(d)


def test_streams_and_context():
    s = tx.new_stream(tx.cpu)
    assert isinstance(s, tx.Stream) and s.device == tx.Device(tx.cpu)
    assert s != tx.default_stream(tx.cpu)
    before = tx.default_stream(tx.default_device())
    with tx.stream(s):
        assert tx.default_stream(tx.cpu) == s
        a = tx.arange(4) * 2
    assert tx.default_stream(tx.default_device()) == before
    assert a.tolist() == [0, 2, 4, 6]
    tx.synchronize(s)
    tx.synchronize()


def test_eval_trees_and_async():
    a, b = tx.arange(3) + 1, tx.ones((2,)) * 3
    tx.eval([a, {"x": b, "y": (a,)}])
    c = tx.exp(tx.zeros((4,)))
    tx.async_eval(c)
    assert c.tolist() == [1.0] * 4
    tx.eval()


def test_memory_counters():
    tx.clear_cache()
    tx.reset_peak_memory()
    a = tx.zeros((1 << 16,)) + 1
    tx.eval(a)
    assert tx.get_active_memory() >= 4 * (1 << 16)
    assert tx.get_peak_memory() >= tx.get_active_memory()
    assert tx.get_cache_memory() >= 0
    limit = tx.get_memory_limit()
    assert tx.set_memory_limit(limit) == limit
    old = tx.set_cache_limit(0)
    assert tx.set_cache_limit(old) == 0
    del a
    tx.clear_cache()
    assert tx.get_cache_memory() == 0


def test_threads():
    n = tx.num_threads()
    tx.set_num_threads(1)
    np.testing.assert_allclose(np.array(tx.ones((64, 64)) @ tx.ones((64, 64))), np.full((64, 64), 64.0))
    tx.set_num_threads(n)
