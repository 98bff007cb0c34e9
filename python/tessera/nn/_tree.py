"""Private tree helpers of tessera.nn (MLX's tree_flatten / tree_unflatten semantics)."""


def tree_flatten(tree, prefix="", is_leaf=None):
    """(dotted key, leaf) pairs, depth first: {"layers": [{"w": a}]} -> [("layers.0.w", a)]."""
    if is_leaf is not None and is_leaf(tree):
        return [(prefix[1:], tree)]
    if isinstance(tree, (list, tuple)):
        out = []
        for i, t in enumerate(tree):
            out.extend(tree_flatten(t, f"{prefix}.{i}", is_leaf))
        return out
    if isinstance(tree, dict):
        out = []
        for k, t in tree.items():
            out.extend(tree_flatten(t, f"{prefix}.{k}", is_leaf))
        return out
    return [(prefix[1:], tree)]


def tree_unflatten(items):
    """Inverse of tree_flatten: levels whose keys are all integers become lists."""
    items = list(items)
    if not items:
        return {}
    if len(items) == 1 and items[0][0] == "":
        return items[0][1]
    children = {}
    for key, value in items:
        head, _, rest = key.partition(".")
        children.setdefault(head, []).append((rest, value))
    if all(k.isdigit() for k in children):
        n = max(int(k) for k in children) + 1
        out = [{} for _ in range(n)]
        for k, v in children.items():
            out[int(k)] = tree_unflatten(v)
        return out
    return {k: tree_unflatten(v) for k, v in children.items()}


def tree_map(fn, tree, *rest, is_leaf=None):
    """fn applied to the leaves of tree (and the matching nodes of rest)."""
    if is_leaf is not None and is_leaf(tree):
        return fn(tree, *rest)
    if isinstance(tree, (list, tuple)):
        return type(tree)(tree_map(fn, c, *[r[i] for r in rest], is_leaf=is_leaf) for i, c in enumerate(tree))
    if isinstance(tree, dict):
        return {k: tree_map(fn, c, *[r[k] for r in rest], is_leaf=is_leaf) for k, c in tree.items()}
    return fn(tree, *rest)
