"""The Op protocol: every op in cgraph declares only the hooks `Op` and its mixins know,
with the arguments their callers pass; views are `ViewOp`s, lazy ops `LazyOp`s; a user
op with only `make_node` and `perform` runs in mode "PY" and names its missing C hook in
mode "C"."""

from __future__ import annotations

import difflib
import importlib
import inspect
import pkgutil

import numpy as np
import pytest

import cgraph
import cgraph.tensor as T
from cgraph.graph.basic import Apply, LazyOp, Op, ViewOp
from cgraph.tensor.blas import Dot, Gemm, MatMul

BASES = (Op, ViewOp, LazyOp)
#: the public names of the protocol: every hook and attribute the bases declare.
PROTOCOL = {name: base for base in reversed(BASES) for name in vars(base)
            if not name.startswith("_")}
#: names an op might define believing them hooks: Theano's, and cgraph's with a typo.
FOREIGN = {"L_op", "R_op", "connection_pattern", "destroy_map", "do_constant_folding"}
#: the words hook names start with: another name starting so is a stray hook.
PREFIXES = ("branch", "c_", "flops", "grad", "infer", "lazy", "make", "needs", "perform",
            "taken", "value", "view")
#: public names close to a hook's name that are not meant as hooks.
NOT_HOOKS = {"inner_shapes"}
#: the hooks whose callers add a `values` argument when the op has value inputs.
VALUE_HOOKS = {"infer_shape", "view_layout"}


def _all_op_classes() -> list[type]:
    for module in pkgutil.walk_packages(cgraph.__path__, "cgraph."):
        importlib.import_module(module.name)
    found: list[type] = []
    stack = list(Op.__subclasses__())
    while stack:
        cls = stack.pop()
        if cls not in found:
            found.append(cls)
            stack.extend(cls.__subclasses__())
    found = [cls for cls in found if cls.__module__.startswith("cgraph.") and cls not in BASES]
    return sorted(found, key=lambda c: (c.__module__, c.__qualname__))


OPS = _all_op_classes()


def _stray_names(cls: type) -> list[str]:
    """The public names `cls` defines that look like hooks but are none."""
    stray = []
    for name in vars(cls):
        if name.startswith("_") or name in PROTOCOL:
            continue
        looks_like = (name in FOREIGN or name.startswith(PREFIXES)
                      or difflib.get_close_matches(name, PROTOCOL, n=1, cutoff=0.8))
        if looks_like and name not in NOT_HOOKS:
            stray.append(name)
    return stray


def test_the_walk_finds_the_ops():
    names = {cls.__name__ for cls in OPS}
    assert len(OPS) > 40
    assert {"Elemwise", "Subtensor", "IfElse", "Scan", "DimShuffle", "Gemm"} <= names


@pytest.mark.parametrize("cls", OPS, ids=lambda c: c.__qualname__)
def test_op_declares_only_protocol_hooks(cls):
    assert _stray_names(cls) == [], (
        f"{cls.__module__}.{cls.__qualname__} defines names that look like Op hooks but "
        "are not declared by Op, ViewOp or LazyOp (a typo, or a hook to declare there)")


def test_the_stray_check_catches_misspelt_hooks():
    class Misspelt:
        def infer_shapes(self): ...
        def lazy_branch(self): ...
        def perfrom(self): ...
        view = 0
        L_op = None
        c_code = ""
        check = None  # not hook-like

    assert _stray_names(Misspelt) == ["infer_shapes", "lazy_branch", "perfrom", "view",
                                      "L_op", "c_code"]


def _required(hook: str) -> list[str]:
    """The positional arguments (after self) every caller passes to `hook`."""
    params = list(inspect.signature(getattr(PROTOCOL[hook], hook)).parameters.values())[1:]
    return [p.name for p in params if p.default is inspect.Parameter.empty
            and p.kind is not inspect.Parameter.VAR_POSITIONAL]


@pytest.mark.parametrize("cls", OPS, ids=lambda c: c.__qualname__)
def test_hooks_take_the_arguments_their_callers_pass(cls):
    for name, value in vars(cls).items():
        if name not in PROTOCOL or not callable(value) or name == "make_node":
            continue
        args = _required(name)
        if name in VALUE_HOOKS and cls.value_inputs:
            args.append("values")
        try:
            inspect.signature(value).bind(None, *args)
        except TypeError as err:
            pytest.fail(f"{cls.__qualname__}.{name} cannot be called as "
                        f"{name}({', '.join(args)}): {err}")


def _defines(cls: type, name: str, base: type) -> bool:
    """Whether `cls` (or a base below `base`) overrides `base`'s `name`."""
    return getattr(cls, name, None) is not getattr(base, name, None)


@pytest.mark.parametrize("cls", OPS, ids=lambda c: c.__qualname__)
def test_views_and_lazy_ops_inherit_their_mixin(cls):
    if _defines(cls, "view_layout", Op):
        assert issubclass(cls, ViewOp), f"{cls.__qualname__} is a view but not a ViewOp"
    if issubclass(cls, ViewOp) and _defines(cls, "make_node", Op):
        assert _defines(cls, "view_layout", ViewOp), f"{cls.__qualname__}: no view_layout"
        assert _defines(cls, "infer_shape", Op) and _defines(cls, "perform", Op)
    lazy_hooks = ("branch_of", "taken", "lazy_branches")
    if any(_defines(cls, name, Op) for name in lazy_hooks):
        assert issubclass(cls, LazyOp), f"{cls.__qualname__} is lazy but not a LazyOp"
    if issubclass(cls, LazyOp) and _defines(cls, "make_node", Op):
        assert _defines(cls, "branch_of", LazyOp) and _defines(cls, "taken", LazyOp)


def test_a_view_hook_outside_view_op_is_refused_at_class_definition():
    with pytest.raises(TypeError, match="Head defines `view_of`.*inherit ViewOp"):
        class Head(Op):
            view_of = 0
    with pytest.raises(TypeError, match="Pick defines `branch_of`.*inherit LazyOp"):
        class Pick(Op):
            def branch_of(self, position):
                return -1


def test_known_views_and_lazy_ops():
    by_name = {cls.__name__: cls for cls in OPS}
    views = {"DimShuffle", "Squeeze", "JoinSlice", "BroadcastLike", "SummedAxes",
             "SplitPart", "Subtensor", "Diagonal", "ReverseRows", "Print", "SpecifyShape",
             "Unbroadcast"}
    assert {n for n, c in by_name.items() if issubclass(c, ViewOp)} == views
    assert {n for n, c in by_name.items() if issubclass(c, LazyOp)} == {"IfElse"}


def test_products_count_their_flops():
    assert Dot().flops([(2, 3), (3, 4)], [(2, 4)]) == 2 * 2 * 4 * 3
    assert Gemm().flops([(2, 3), (3, 4), (2, 4)], [(2, 4)]) == 2 * 2 * 4 * 3
    assert MatMul().flops([(5, 2, 3), (5, 3, 4)], [(5, 2, 4)]) == 2 * 5 * 2 * 4 * 3
    assert T.exp(T.dvector()).owner.op.flops([(7,)], [(7,)]) == 0


class Twice(Op):
    """A user's op with a type rule and a numpy reference only."""

    def make_node(self, x):
        x = T.as_tensor_variable(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs):
        return [2 * inputs[0]]


def test_a_user_op_with_make_node_and_perform_runs_in_mode_py():
    x = T.dvector("x")
    f = cgraph.function([x], Twice()(x) + 1, mode="PY")
    data = np.array([1.5, -2.0, 3.0])
    np.testing.assert_array_equal(f(data), 2 * data + 1)


def test_ops_have_no_c_hooks_of_their_own():
    # A kernel is registered for the op's class (cgraph.kernel), never found by name.
    assert not [f"{cls.__qualname__}.{name}" for cls in OPS for name in vars(cls)
                if name in ("c_family", "c_kernel", "c_params")]


def test_a_user_op_without_c_kernel_names_the_op_and_the_registry_in_mode_c():
    x = T.dvector("x")
    with pytest.raises(NotImplementedError,
                       match=r"Twice has no C implementation.*register_kernel"):
        cgraph.function([x], Twice()(x) + 1, mode="C")
