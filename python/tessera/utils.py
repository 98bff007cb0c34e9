"""Tree utilities as MLX's mlx.utils: trees are nested lists, tuples and dicts; everything else is a leaf."""

from collections import defaultdict


def _is_node(tree):
    return isinstance(tree, (list, tuple, dict))


def tree_map(fn, tree, *rest, is_leaf=None):
    """Applies fn to the leaves of tree (and the matching leaves of rest), keeping the structure."""
    if is_leaf is not None and is_leaf(tree):
        return fn(tree, *rest)
    if isinstance(tree, (list, tuple)):
        out = [tree_map(fn, child, *(r[i] for r in rest), is_leaf=is_leaf) for i, child in enumerate(tree)]
        return type(tree)(out) if not hasattr(tree, "_fields") else type(tree)(*out)
    if isinstance(tree, dict):
        return {k: tree_map(fn, child, *(r[k] for r in rest), is_leaf=is_leaf) for k, child in tree.items()}
    return fn(tree, *rest)


def tree_map_with_path(fn, tree, *rest, is_leaf=None, path=None):
    """tree_map whose fn also gets the leaf's path ("layers.0.weight") as its first argument."""
    if is_leaf is not None and is_leaf(tree):
        return fn(path, tree, *rest)
    if isinstance(tree, (list, tuple)):
        prefix = f"{path}." if path else ""
        out = [
            tree_map_with_path(fn, child, *(r[i] for r in rest), is_leaf=is_leaf, path=f"{prefix}{i}")
            for i, child in enumerate(tree)
        ]
        return type(tree)(out) if not hasattr(tree, "_fields") else type(tree)(*out)
    if isinstance(tree, dict):
        prefix = f"{path}." if path else ""
        return {
            k: tree_map_with_path(fn, child, *(r[k] for r in rest), is_leaf=is_leaf, path=f"{prefix}{k}")
            for k, child in tree.items()
        }
    return fn(path, tree, *rest)


def tree_flatten(tree, prefix="", is_leaf=None):
    """[(path, leaf), ...] with dot-separated paths: tree_flatten([[[0]]]) == [("0.0.0", 0)]."""
    flat = []

    def walk(t, p):
        if (is_leaf is None or not is_leaf(t)) and isinstance(t, (list, tuple)):
            for i, child in enumerate(t):
                walk(child, f"{p}.{i}")
        elif (is_leaf is None or not is_leaf(t)) and isinstance(t, dict):
            for k, child in t.items():
                walk(child, f"{p}.{k}")
        else:
            flat.append((p[1:], t))

    walk(tree, prefix)
    return flat


def tree_unflatten(tree):
    """Inverse of tree_flatten: integer keys make lists, others dicts."""
    if len(tree) == 1 and tree[0][0] == "":
        return tree[0][1]
    try:
        int(tree[0][0].split(".", maxsplit=1)[0])
        is_list = True
    except ValueError:
        is_list = False
    children = defaultdict(list)
    for key, value in tree:
        current, *rest = key.split(".", maxsplit=1)
        children[current].append((rest[0] if rest else "", value))
    if is_list:
        keys = sorted((int(k), k) for k in children)
        out = []
        for i, k in keys:
            while len(out) < i:
                out.append({})
            out.append(tree_unflatten(children[k]))
        return out
    return {k: tree_unflatten(v) for k, v in children.items()}


def tree_reduce(fn, tree, initializer=None, is_leaf=None):
    """Reduces the leaves of tree with fn(accumulator, leaf)."""
    acc = initializer
    first = initializer is None
    for _, leaf in tree_flatten(tree, is_leaf=is_leaf):
        if first:
            acc, first = leaf, False
        else:
            acc = fn(acc, leaf)
    return acc
