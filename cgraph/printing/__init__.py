"""Seeing inside a graph: `debugprint`, `pprint`, `to_dot`/`pydotprint`, `show_c`.

`debugprint` prints a graph (for a compiled function, the graph after rewrites, i.e.
what was compiled) as an indented tree. Each node prints once with an `[id X]`
label, the same label the generated C gives the node's kernel (so `show_c(f,
node="A")` finds it) and that profiles and error messages use; later uses print
the label alone. A fused elementwise node lists the original ops its one loop
computes::

    fused{exp,mul,add} [id A] float64[?]  <- output 0
     > t0 = exp(x0)  float64  (exp at model.py:12)
     > t1 = mul(t0, x1)  float64  (mul at model.py:12)
     > t2 = add(t1, x2)  float64  (add at model.py:12)
     > outputs: t2
     |x [id B] float64[?]
     |y [id C] float64[?]
     |[1.] [id D] float64[1]

`pprint(fx)` (Theano's `pp` too) writes a graph as math (`exp(sin(x ** 2))`);
`to_dot` as Graphviz text, which `pydotprint(f, "graph.svg")` renders; `show_c(f)`
prints the C. `Print("msg")(x)` is `x`, printed each time the function runs.
"""

from cgraph.compile.host_print import Print
from cgraph.printing.dot import (
    GraphvizNotFound,
    notebook_svg,
    pydotprint,
    register_notebook_display,
    to_dot,
    to_svg,
)
from cgraph.printing.text import (
    debugprint,
    dprint,
    highlight_c,
    kernel_source,
    pprint,
    show_c,
)
from cgraph.printing.view import GraphView, composite_lines, graph_view

#: Theano's name of `pprint`.
pp = pprint

__all__ = ["GraphView", "GraphvizNotFound", "Print", "composite_lines", "debugprint", "dprint",
           "graph_view", "highlight_c", "kernel_source", "notebook_svg", "pp", "pprint",
           "pydotprint", "register_notebook_display", "show_c", "to_dot", "to_svg"]
