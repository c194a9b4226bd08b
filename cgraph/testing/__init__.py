"""Testing your own cgraph models: gradient checks and the pytest plugin.

- :func:`verify_grad`: a symbolic gradient against central differences (also
  ``cgraph.verify_grad``, Theano's place for it).
- :func:`assert_modes_agree`: a graph in C against the numpy reference, naming the
  first node where they part.
- The pytest plugin (:mod:`cgraph.testing.plugin`), registered when cgraph is
  installed: ``--cgraph-mode=C|PY|both``, ``--cgraph-sanitize``, the fixtures
  ``cgraph_cache`` and ``cgraph_config``, and the marker ``requires_cc``.
"""

from cgraph.gradient import verify_grad
from cgraph.testing.modes import assert_modes_agree

__all__ = ["assert_modes_agree", "verify_grad"]
