"""Optimizers (MLX's mlx.optimizers): Python classes with MLX's signatures around the C++ optimizers of
tessera/optimizers/*.h (bound in python/src/nn.cpp), which hold the state and compute every update."""

import tessera.core as tx
from tessera.core import _nn

from .schedulers import _cpp


def _lr(learning_rate):
    return _cpp(learning_rate) if callable(learning_rate) else float(learning_rate)


class Optimizer:
    """Base class: update(model, gradients), apply_gradients(gradients, parameters), init, state, step,
    learning_rate (a float or a schedule of the step)."""

    _uses_step = False  # the update reads the step counter (bias correction, relative steps)

    def __init__(self, impl):
        self._impl = impl
        self._state = _State(self)
        if not hasattr(self, "_lr_ref"):
            self._lr_ref = None

    def _rate(self, learning_rate):
        # The C++ optimizer borrows a schedule's callable: keep it alive here.
        self._lr_ref = _lr(learning_rate)
        return self._lr_ref

    def init(self, parameters):
        """Creates the state of the parameters (a tree) that have none yet."""
        self._impl.init(_params(parameters))

    def apply_gradients(self, gradients, parameters):
        """The updated parameters (the gradients' structure); increments the step."""
        return self._impl.apply_gradients(gradients, _params(parameters))

    def update(self, model, gradients):
        """model.update(apply_gradients(gradients, model))."""
        model.update(self.apply_gradients(gradients, model))

    @property
    def state(self):
        """{"step", "learning_rate", and per parameter path its state arrays} (a tree). The same dict
        each time, refreshed on access; usable as compile's implicit state
        (``tx.compile(step, inputs=[model.state, optimizer.state], outputs=...)``)."""
        self._state._refresh()
        return self._state

    @state.setter
    def state(self, state):
        self._impl.set_state(state)

    @property
    def step(self):
        return tx.array(self._impl.step, dtype=tx.uint64)

    @property
    def learning_rate(self):
        if isinstance(self._lr_ref, float):  # a fixed rate (possibly set after the last update)
            return tx.array(self._lr_ref, dtype=tx.float32)
        return tx.array(self._impl.learning_rate, dtype=tx.float32)

    @learning_rate.setter
    def learning_rate(self, learning_rate):
        self._impl.set_learning_rate(self._rate(learning_rate))


class _State(dict):
    """An optimizer's state as a dict mirroring the C++ optimizer. tessera.core.compile(inputs=,
    outputs=) calls _tx_sync(phase) around a traced / replayed call: the per-parameter state arrays
    are traced inputs and outputs; the step counter (kept on the host) advances by the updates the
    traced call made. Updates that depend on the step or on a learning-rate schedule would be frozen
    at their traced values, so they are refused."""

    def __init__(self, optimizer):
        super().__init__()
        self._optimizer = optimizer
        self._step0 = 0  # step counter before the current call
        self._steps = 0  # updates one call of the traced function makes
        self._trace_step = 0
        self._snapshot = {}
        self._traced = {}

    def _refresh(self):
        self.clear()
        self.update(self._optimizer._impl.state())

    def _param_state(self):
        return {k: v for k, v in self.items() if k not in ("step", "learning_rate")}

    def _set(self, step):
        self._optimizer._impl.set_state({"step": tx.array(step, dtype=tx.int32), **self._param_state()})
        self["step"] = tx.array(step, dtype=tx.int32)

    def _tx_sync(self, phase):
        impl = self._optimizer._impl
        if phase == "pull":
            self._refresh()
            self._step0 = impl.step
            self._snapshot = impl.state()
        elif phase == "push_trace":
            opt = self._optimizer
            if opt._uses_step or not isinstance(opt._lr_ref, (float, type(None))):
                raise ValueError(
                    f"[compile] {type(opt).__name__} with a learning-rate schedule or a step-dependent update "
                    "cannot be compiled as implicit state (its step counter lives on the host); call it "
                    "outside the compiled function.")
            self._trace_step = impl.step
            impl.set_state(self._param_state())
        elif phase == "pull_trace":
            self._steps = impl.step - self._trace_step
            self._refresh()
            self._traced = impl.state()
        elif phase == "restore":
            self.clear()
            self.update(self._snapshot)
            self._set(self._step0)
        elif phase == "pre_push":
            self.clear()
            self.update(_copy_tree(self._traced))
        elif phase == "push":
            self._set(self._step0 + self._steps)


def _copy_tree(tree):
    if isinstance(tree, dict):
        return {k: _copy_tree(v) for k, v in tree.items()}
    if isinstance(tree, list):
        return [_copy_tree(v) for v in tree]
    return tree


def _params(parameters):
    # A Module is a dict subclass; the C++ side reads plain nested dicts/lists of arrays.
    from tessera.nn import Module
    return parameters.parameters() if isinstance(parameters, Module) else parameters


class SGD(Optimizer):
    def __init__(self, learning_rate, momentum=0.0, weight_decay=0.0, dampening=0.0, nesterov=False):
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("[optimizers] Nesterov momentum requires a momentum and zero dampening.")
        super().__init__(_nn.SGD(self._rate(learning_rate), momentum, weight_decay, dampening, nesterov))


class RMSprop(Optimizer):
    def __init__(self, learning_rate, alpha=0.99, eps=1e-8):
        if alpha < 0.0:
            raise ValueError(f"[optimizers] RMSprop alpha should be >= 0, {alpha} was provided instead")
        if eps < 0.0:
            raise ValueError(f"[optimizers] RMSprop epsilon should be >= 0, {eps} was provided instead")
        super().__init__(_nn.RMSprop(self._rate(learning_rate), alpha, eps))


class Adagrad(Optimizer):
    def __init__(self, learning_rate, eps=1e-8):
        if eps < 0.0:
            raise ValueError(f"[optimizers] Adagrad epsilon should be >= 0, {eps} was provided instead")
        super().__init__(_nn.Adagrad(self._rate(learning_rate), eps))


class Adam(Optimizer):
    def __init__(self, learning_rate, betas=(0.9, 0.999), eps=1e-8, bias_correction=False):
        self._uses_step = bias_correction
        super().__init__(_nn.Adam(self._rate(learning_rate), tuple(betas), eps, bias_correction))


class AdamW(Optimizer):
    def __init__(self, learning_rate, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01, bias_correction=False):
        self._uses_step = bias_correction
        super().__init__(_nn.AdamW(self._rate(learning_rate), tuple(betas), eps, weight_decay, bias_correction))


class Adamax(Optimizer):
    def __init__(self, learning_rate, betas=(0.9, 0.999), eps=1e-8):
        if not 0.0 <= eps:
            raise ValueError(f"[optimizers] Epsilon value should be >=0, {eps} was provided instead")
        super().__init__(_nn.Adamax(self._rate(learning_rate), tuple(betas), eps))


class Lion(Optimizer):
    def __init__(self, learning_rate, betas=(0.9, 0.99), weight_decay=0.0):
        super().__init__(_nn.Lion(self._rate(learning_rate), tuple(betas), weight_decay))


class Adafactor(Optimizer):
    _uses_step = True
    def __init__(self, learning_rate=None, eps=(1e-30, 1e-3), clip_threshold=1.0, decay_rate=-0.8, beta_1=None,
                 weight_decay=0.0, scale_parameter=True, relative_step=True, warmup_init=False):
        lr = None if learning_rate is None else float(learning_rate)
        super().__init__(_nn.Adafactor(lr, tuple(eps), clip_threshold, decay_rate, beta_1, weight_decay,
                                       scale_parameter, relative_step, warmup_init))


def clip_grad_norm(grads, max_norm):
    """(gradients scaled so their global L2 norm is at most max_norm, the norm before clipping)."""
    return _nn.clip_grad_norm(grads, max_norm)
