"""nn.Module (MLX's mlx.nn.Module): a dict of arrays, modules and lists/dicts of them, with attribute access."""

import tessera.core as tx

from ._tree import tree_flatten, tree_unflatten


def _unwrap(model, value_key, value, filter_fn, map_fn, is_leaf_fn):
    if is_leaf_fn(model, value_key, value):
        return map_fn(value)
    if isinstance(value, Module):
        return {
            k: _unwrap(value, k, v, filter_fn, map_fn, is_leaf_fn)
            for k, v in value.items()
            if filter_fn(value, k, v)
        }
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            key = f"{value_key}.{k}"
            out[k] = _unwrap(model, key, v, filter_fn, map_fn, is_leaf_fn) if filter_fn(model, key, v) else {}
        return out
    if isinstance(value, list):
        out = []
        for i, v in enumerate(value):
            key = f"{value_key}.{i}"
            out.append(_unwrap(model, key, v, filter_fn, map_fn, is_leaf_fn) if filter_fn(model, key, v) else {})
        return out
    raise RuntimeError("[nn] Unexpected leaf found while traversing the module")


class Module(dict):
    """Base class of layers and models. Arrays, modules, and lists/dicts of them set as attributes are
    stored as dict items (the parameters and children); anything else is a plain attribute."""

    def __init__(self):
        super().__init__()
        object.__setattr__(self, "_no_grad", set())
        object.__setattr__(self, "_training", True)

    @property
    def training(self):
        """True in training mode (e.g. Dropout is active)."""
        return self._training

    @property
    def state(self):
        """The module's dict of parameters, children and other stored values (the module itself)."""
        return self

    def _extra_repr(self):
        return ""

    def __repr__(self):
        children = tree_flatten(self.children(), is_leaf=lambda m: isinstance(m, Module))
        value = f"{type(self).__name__}({self._extra_repr()}"
        for k, v in children:
            value += "\n" + "\n".join("  " + line for line in f"({k}): {v!r}".split("\n"))
        if children:
            value += "\n"
        return value + ")"

    def __getattr__(self, key):
        if key in self:
            return self[key]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {key!r}")

    def __setattr__(self, key, val):
        if isinstance(val, (tx.array, dict, list, tuple)):
            if key in self.__dict__:
                object.__delattr__(self, key)
            self[key] = val
        else:
            if key in self:
                del self[key]
            object.__setattr__(self, key, val)

    def __delattr__(self, key):
        if key in self:
            del self[key]
        else:
            object.__delattr__(self, key)

    # Hash and equality by identity (modules are used as keys and compared in lists).
    __hash__ = object.__hash__

    def __eq__(self, other):
        return self is other

    def __ne__(self, other):
        return self is not other

    # --- filters ---------------------------------------------------------------------------------------
    @staticmethod
    def valid_child_filter(module, key, value):
        return isinstance(value, (dict, list))

    @staticmethod
    def valid_parameter_filter(module, key, value):
        return isinstance(value, (dict, list, tx.array)) and not key.startswith("_")

    @staticmethod
    def trainable_parameter_filter(module, key, value):
        return Module.valid_parameter_filter(module, key, value) and key not in module._no_grad

    def filter_and_map(self, filter_fn, map_fn=None, is_leaf_fn=None):
        """The tree of values accepted by filter_fn(module, key, value), mapped by map_fn at the leaves."""
        map_fn = map_fn or (lambda x: x)
        is_leaf_fn = is_leaf_fn or (lambda m, k, v: not isinstance(v, (Module, dict, list)))
        return {
            k: _unwrap(self, k, v, filter_fn, map_fn, is_leaf_fn) for k, v in self.items() if filter_fn(self, k, v)
        }

    def parameters(self):
        """All arrays of the module and its children, as a nested dict/list tree."""
        return self.filter_and_map(self.valid_parameter_filter)

    def trainable_parameters(self):
        """The parameters that are not frozen."""
        return self.filter_and_map(self.trainable_parameter_filter)

    def children(self):
        """The direct submodules (in lists/dicts as stored)."""
        return self.filter_and_map(self.valid_child_filter, is_leaf_fn=lambda m, k, v: isinstance(v, Module))

    def leaf_modules(self):
        """The submodules without children."""

        def is_leaf_module(m, k, v):
            return isinstance(v, Module) and len(tree_flatten(v.children())) == 0

        return self.filter_and_map(self.valid_child_filter, is_leaf_fn=is_leaf_module)

    # --- updates ---------------------------------------------------------------------------------------
    def update(self, parameters, strict=True):
        """Replaces the parameters named in the (nested) dict/list tree `parameters`."""

        def apply(dst, params, path):
            if isinstance(params, dict):
                for k, new in params.items():
                    if k in dst:
                        cur = dst[k]
                        if isinstance(cur, tx.array):
                            if strict and not isinstance(new, tx.array):
                                raise ValueError(f"[nn] Received invalid type {type(new).__name__} for {path}{k}.")
                            if strict and tuple(new.shape) != tuple(cur.shape):
                                raise ValueError(
                                    f"[nn] Expected shape {tuple(cur.shape)} but received {tuple(new.shape)} "
                                    f"for parameter {path}{k}.")
                            dst[k] = new
                        else:
                            apply(cur, new, f"{path}{k}.")
                    elif strict:
                        raise ValueError(f'[nn] Module does not have parameter named "{path}{k}".')
            elif isinstance(params, list):
                for i, new in enumerate(params):
                    if i >= len(dst):
                        if strict:
                            raise ValueError(f'[nn] Module does not have parameter named "{path}{i}".')
                        continue
                    cur = dst[i]
                    if isinstance(cur, tx.array):
                        dst[i] = new
                    else:
                        apply(cur, new, f"{path}{i}.")
            elif strict:
                raise ValueError(f"[nn] Received invalid type {type(params).__name__} at {path or 'the root'}.")

        apply(self, parameters, "")
        return self

    def apply(self, map_fn, filter_fn=None):
        """Maps every parameter (accepted by filter_fn) with map_fn, in place."""
        filter_fn = filter_fn or Module.valid_parameter_filter
        self.update(self.filter_and_map(filter_fn, map_fn))
        return self

    def update_modules(self, modules, strict=True):
        """Replaces the submodules named in the tree `modules`."""

        def apply(dst, mods, path):
            items = mods.items() if isinstance(mods, dict) else enumerate(mods)
            for k, new in items:
                exists = (k in dst) if isinstance(dst, dict) else (k < len(dst))
                if not exists:
                    if strict:
                        raise ValueError(f'[nn] Module does not have submodule named "{path}{k}".')
                    continue
                cur = dst[k]
                if isinstance(new, Module):
                    dst[k] = new
                elif isinstance(cur, (dict, list)):
                    apply(cur, new, f"{path}{k}.")
                elif strict:
                    raise ValueError(f"[nn] Received invalid type {type(new).__name__} for {path}{k}.")

        apply(self, modules, "")
        return self

    def apply_to_modules(self, apply_fn):
        """Calls apply_fn(dotted name, module) on this module ("") and every submodule, parents first."""
        stack = [("", self)]
        while stack:
            prefix, mod = stack.pop()
            apply_fn(prefix, mod)
            pre = prefix + "." if prefix else ""
            subs = tree_flatten(mod.children(), is_leaf=lambda m: isinstance(m, Module))
            stack.extend((pre + k, m) for k, m in subs)
        return self

    def modules(self):
        """This module and all submodules."""
        out = []
        self.apply_to_modules(lambda k, m: out.append(m))
        return out

    def named_modules(self):
        """(dotted name, module) of this module ("") and all submodules."""
        out = []
        self.apply_to_modules(lambda k, m: out.append((k, m)))
        return out

    # --- freezing and modes ------------------------------------------------------------------------------
    def _validate_keys(self, keys, strict):
        keys = keys if isinstance(keys, list) else [keys]
        if strict:
            for k in keys:
                if k not in self:
                    raise KeyError(f"[nn] Module doesn't contain member {k}.")
        return keys

    def freeze(self, *, recurse=True, keys=None, strict=False):
        """Excludes parameters (all, or the given local keys) from trainable_parameters()."""

        def impl(_, m):
            local = keys
            if local is None:
                local = [k for k, _ in tree_flatten(m.filter_and_map(
                    lambda mm, k, v: not isinstance(v, Module) and mm.valid_parameter_filter(mm, k, v)))]
            m._no_grad.update(m._validate_keys(local, strict))

        if recurse:
            self.apply_to_modules(impl)
        else:
            impl("", self)
        return self

    def unfreeze(self, *, recurse=True, keys=None, strict=False):
        """Makes parameters (all, or the given local keys) trainable again."""

        def impl(_, m):
            if keys is None:
                m._no_grad.clear()
            else:
                m._no_grad.difference_update(m._validate_keys(keys, strict))

        if recurse:
            self.apply_to_modules(impl)
        else:
            impl("", self)
        return self

    def train(self, mode=True):
        """Sets training mode on this module and all submodules."""
        self.apply_to_modules(lambda _, m: object.__setattr__(m, "_training", mode))
        return self

    def eval(self):
        """Sets evaluation mode (train(False))."""
        return self.train(False)

    def set_dtype(self, dtype, predicate=None):
        """Casts the floating-point parameters (or those accepted by predicate(dtype)) to dtype."""
        if predicate is None:
            def predicate(d):
                return d in (tx.float16, tx.float32, tx.float64, tx.bfloat16)
        self.apply(lambda x: x.astype(dtype) if predicate(x.dtype) else x)

    # --- weights files -----------------------------------------------------------------------------------
    def load_weights(self, file_or_weights, strict=True):
        """Loads weights from a .safetensors/.npz file or a list of (dotted name, array) pairs."""
        weights = file_or_weights
        if isinstance(weights, str) or hasattr(weights, "__fspath__"):
            load = getattr(tx, "load", None) or tx._nn.load
            weights = list(load(str(weights)).items())
        weights = list(weights)
        if strict:
            new = dict(weights)
            cur = dict(tree_flatten(self.parameters()))
            extras = new.keys() - cur.keys()
            if extras:
                raise ValueError(f"[nn] Received parameters not in model: {', '.join(sorted(extras))}.")
            missing = cur.keys() - new.keys()
            if missing:
                raise ValueError(f"[nn] Missing parameters: {', '.join(sorted(missing))}.")
            for k, v in cur.items():
                w = new[k]
                if not isinstance(w, tx.array):
                    raise ValueError(f"[nn] Expected an array for parameter {k}, got {type(w).__name__}.")
                if tuple(w.shape) != tuple(v.shape):
                    raise ValueError(f"[nn] Expected shape {tuple(v.shape)} but received {tuple(w.shape)} for {k}.")
        self.update(tree_unflatten(weights), strict=False)
        return self

    def save_weights(self, file):
        """Saves the parameters to a .safetensors or .npz file (flattened dotted names)."""
        file = str(file)
        params = dict(tree_flatten(self.parameters()))
        if file.endswith(".npz"):
            if hasattr(tx, "savez"):
                tx.savez(file, **params)
            else:
                tx._nn.savez(file, params)
        elif file.endswith(".safetensors"):
            if hasattr(tx, "save_safetensors"):
                tx.save_safetensors(file, params)
            else:
                tx._nn.save_safetensors(file, params)
        else:
            raise ValueError("[nn] Unsupported file extension; use .npz or .safetensors.")
