"""`scan`: Theano's loop, compiled so that the whole loop runs inside the function's C.

The step function `fn` is called once, on symbolic slices, to build the step's graph
(`cgraph.scan.build`), which becomes one `Scan` op (`cgraph.scan.op`) of rows and
states. In mode "C" the step is lowered to its own program inside the outer module,
which the scan kernel calls once per step (`cgraph.scan.lowering`); its gradient is a
second scan over the steps in reverse (`cgraph.scan.gradient`), itself differentiable.

Supported: sequences and outputs_info with any taps (or None for outputs that are
not fed back), non_sequences, n_steps, go_backwards, updates returned by the step
(shared variables carried as states, their last values returned as updates), random
draws in the step, gradients of any order and truncate_gradient, and slices with
symbolic bounds in the step (`cgraph.scan.slices`; bounds computed from a state are
planned while the loop runs, `cgraph.scan.dynamic`).
"""

from cgraph.scan.build import scan
from cgraph.scan.op import Scan

__all__ = ["Scan", "scan"]
