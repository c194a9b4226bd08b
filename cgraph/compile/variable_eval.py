"""`x.eval({a: value, ...})`: Theano's quick evaluation of a variable.

The function is compiled once per variable and set of inputs (and mode, optimizer
and floatX) and kept on the variable, as Theano does, so evaluating it again with new
values is a call. It is attached to `Variable` here, in the layer that can compile.
"""

from __future__ import annotations

from typing import Any

from cgraph.compile.function import Function, function
from cgraph.compile.shared import SharedVariable
from cgraph.configdefaults import config
from cgraph.graph.basic import Constant, Variable, graph_inputs

__all__ = ["eval_variable"]


def eval_variable(self: Variable, inputs_to_values: dict | None = None, **kwargs: Any) -> Any:
    """The value of this variable, given values of the free variables it depends on.

    Parameters
    ----------
    inputs_to_values : dict, optional
        Free variable (or its name) -> value. Shared variables and constants need
        none. An input the variable does not depend on is ignored.
    **kwargs
        Passed to `cgraph.function` on the first evaluation (`mode=`...).

    Raises
    ------
    ValueError
        A free variable the result depends on has no value (its name is given), or a
        name matches no input, or several.
    """
    values = dict(inputs_to_values or {})
    leaves = [v for v in graph_inputs([self]) if v.owner is None]
    variables = [_resolve(key, leaves) for key in values]
    given = {id(v) for v in variables}
    missing = [v for v in leaves if id(v) not in given
               and not isinstance(v, (Constant, SharedVariable))]
    if missing:
        raise ValueError(f"eval: {self!r} depends on {missing[0]!r} ({missing[0].type}), "
                         "which has no value: pass it in the dict, {variable: value}")
    key = (tuple(variables), config.mode, config.optimizer, config.floatX,
           repr(sorted(kwargs.items())))
    cache: dict = self.__dict__.setdefault("_fn_cache", {})
    fn: Function | None = cache.get(key)
    if fn is None:
        fn = function(variables, self, on_unused_input="ignore", **kwargs)
        cache[key] = fn
    return fn(*values.values())


def _resolve(key: Any, leaves: list[Variable]) -> Variable:
    """The input a key of `eval`'s dict names: a variable, or the name of one."""
    if isinstance(key, Variable):
        return key
    if isinstance(key, str):
        named = [v for v in leaves if v.name == key]
        if len(named) == 1:
            return named[0]
        what = "no input" if not named else f"{len(named)} inputs"
        raise ValueError(f"eval: {what} of the graph named {key!r}; key the values by "
                         "variable")
    raise TypeError(f"eval: the keys are variables (or their names), not {key!r}")


Variable.eval = eval_variable
