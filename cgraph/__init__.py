"""cgraph: a Theano-style expression compiler for Python that generates C.

Build symbolic graphs with `cgraph.tensor`, differentiate them with `grad`, and
compile them with `function`: the graph becomes one C file (see `f.c_source`),
compiled with cffi, cached on disk, and called with numpy arrays.
"""

import logging

from cgraph import scalar, tensor  # noqa: F401  (theano.scalar.upcast, theano.tensor.dot)
from cgraph._version import __version__ as __version__
from cgraph.compile import Function, In, Out, SharedVariable, export_c, function, shared
from cgraph.configdefaults import config
from cgraph.gradient import grad, verify_grad
from cgraph.printing import debugprint, dprint, pprint, register_notebook_display
from cgraph.scan import scan

__all__ = ["Function", "In", "Out", "SharedVariable", "config", "debugprint", "dprint",
           "export_c", "function", "grad", "pprint", "scan", "shared", "verify_grad"]

# The `cgraph` logger reports compile events (cache hits at DEBUG, compiles at INFO);
# it prints nothing unless the application configures logging.
logging.getLogger(__name__).addHandler(logging.NullHandler())
# In Jupyter, functions and variables display as graph pictures (when Graphviz is there).
register_notebook_display()
