"""nn.value_and_grad (MLX): loss and gradients w.r.t. a model's trainable parameters, built on the private
C++ binding tessera.core._nn.value_and_grad_flat (tessera::value_and_grad over a flat list of arrays)."""

import tessera.core as tx

from ._tree import tree_flatten, tree_unflatten


def value_and_grad(model, fn):
    """Returns f(*args, **kwargs) -> (fn(*args, **kwargs), gradients shaped like model.trainable_parameters()).
    fn returns the scalar loss, or a tuple/list whose first element is the loss (the rest is returned as is)."""

    def wrapped(*args, **kwargs):
        flat = tree_flatten(model.trainable_parameters())
        keys = [k for k, _ in flat]
        values = [v for _, v in flat]
        structure = {}

        def inner(params):
            model.update(tree_unflatten(list(zip(keys, params))), strict=False)
            out = fn(*args, **kwargs)
            if isinstance(out, (tuple, list)):
                leaves = tree_flatten(out)
                if any(not isinstance(v, tx.array) for _, v in leaves):
                    raise TypeError("[nn] value_and_grad: the function must return arrays.")
                structure["tree"] = (type(out), [k for k, _ in leaves])
                return [v for _, v in leaves]
            if not isinstance(out, tx.array):
                raise TypeError("[nn] value_and_grad: the function must return an array (the loss).")
            structure["tree"] = None
            return [out]

        try:
            outs, grads = tx._nn.value_and_grad_flat(inner, values)
        finally:
            model.update(tree_unflatten(flat), strict=False)
        if structure["tree"] is None:
            value = outs[0]
        else:
            kind, leaf_keys = structure["tree"]
            value = tree_unflatten(list(zip(leaf_keys, outs)))
            value = kind(value) if isinstance(value, list) else value
        return value, tree_unflatten(list(zip(keys, grads)))

    return wrapped
