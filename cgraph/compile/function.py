"""`cgraph.function`: compile a graph with updates into a callable `Function`.

Mode "C" compiles the graph into a native module (`CompiledModule`) and makes one C
call per call; mode "PY" evaluates the same graph with each op's numpy reference
(`pymode`) and needs no compiler. Both check the arguments, write the updates back and
pack the result through the function's `Signature`.
"""

from __future__ import annotations

import copy
import functools
import pickle
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from cgraph.backend import BuildOptions
from cgraph.compile import debugmode, pymode
from cgraph.compile.compiled import CompiledModule
from cgraph.compile.givens import as_givens
from cgraph.compile.graph_key import graph_key, walk
from cgraph.compile.host_print import Print, printing_call, strip_prints
from cgraph.compile.io import Binding, In, Out
from cgraph.compile.loop import run_loop
from cgraph.compile.profiling import ProfileStats
from cgraph.compile.shared import SharedVariable
from cgraph.compile.signature import Signature
from cgraph.compile.toolchain import build_options, has_libmvec
from cgraph.compile.updates import default_updates, update_pairs
from cgraph.compile.warm import GraphDump, GraphFace, Prepared, keep_record, restore
from cgraph.configdefaults import Config, config
from cgraph.graph.basic import Constant, Variable, clone_replace
from cgraph.graph.fg import FunctionGraph
from cgraph.graph.gcpause import gc_paused
from cgraph.rewrite import rewrite_graph
from cgraph.tensor.type import as_tensor_variable

# build_options and has_libmvec are also importable from here (toolchain.py holds them).
__all__ = ["Function", "UnusedInputError", "build_options", "function", "has_libmvec"]


#: The modes `function` accepts -> (how it runs, the rewrites' `config.optimizer` or
#: None for the configured one). "FAST_RUN" and "FAST_COMPILE" are Theano's names.
MODES: dict[str, tuple[str, str | None]] = {
    "C": ("C", None), "FAST_RUN": ("C", None), "FAST_COMPILE": ("C", "fast_compile"),
    "PY": ("PY", None), "DebugMode": ("DebugMode", None), "DEBUG_MODE": ("DebugMode", None),
}


class UnusedInputError(ValueError):
    """An input of `function` that the outputs do not depend on."""


class Function:
    """A compiled function. Call it with numpy arrays (or lists and numbers).

    Attributes
    ----------
    fgraph : FunctionGraph
        The graph that was compiled: the inputs then the shared variables in, the
        outputs then the updates' new values out.
    mode : str
        "C", "PY" or "DebugMode" (`MODES` gives the names `function` accepts).
    name : str or None
        Names the function in error messages.
    user_inputs : list of Variable
        The caller's input variables (`fgraph` holds clones).
    signature : Signature
        How arguments are checked and results returned; the shared variables read
        and updated.
    compiled : CompiledModule or None
        The native module and its call plans (modes "C" and "DebugMode").
    reference : FunctionGraph or None
        Mode "DebugMode": the graph before rewrites, which each call also runs in numpy.
    """

    def __init__(self, fgraph: FunctionGraph | GraphFace, n_inputs: int,
                 shared_in: list[SharedVariable], n_outputs: int,
                 update_targets: list[SharedVariable], return_list: bool, mode: str,
                 name: str | None, allow_downcast: bool | None, cfg: Config,
                 profile: bool = False, prints: Sequence[Print] = (),
                 reference: FunctionGraph | None = None, prepared: Prepared | None = None,
                 meanwhile: GraphDump | None = None):
        # A warm start's graph is rebuilt on first use (`CompiledModule.fgraph`).
        self._fgraph = fgraph if isinstance(fgraph, FunctionGraph) else None
        self.mode = mode
        self.reference = reference
        # The values of `Print` nodes are hidden outputs after the caller's: the call
        # returns them all as a list and `printing_call` prints and drops them.
        self._prints = tuple(prints)
        self._n_outputs, self._return_list = n_outputs, return_list
        self.signature = Signature.of_graph(fgraph, n_inputs, shared_in,
                                            n_outputs + len(prints), update_targets,
                                            return_list or bool(prints), allow_downcast)
        self.user_inputs: list[Variable] = list(fgraph.inputs[:n_inputs])
        self._name = name
        self._n_args = n_inputs
        self._allow_downcast = allow_downcast
        self._cfg = copy.copy(cfg)  # the settings it was built with (pickling, copies)
        self._profiled = bool(profile or cfg.profile) and mode == "C"
        self._trust_input = False
        self._ins: list[In] | None = None  # from `function`'s In specs
        self._binding: Binding | None = None  # the arguments' names and defaults
        self._implicit = False  # an In(..., implicit=True): arguments always need binding
        self.compiled = (CompiledModule(fgraph, self.signature, self._cfg, self._profiled,
                                        self._label(), prepared, meanwhile)
                         if mode != "PY" else None)
        self._call = self._call_path()

    # ----------------------------------------------------------------- attributes

    @property
    def fgraph(self) -> FunctionGraph:
        """The graph that was compiled (see the class's attributes)."""
        if self._fgraph is None:
            self._fgraph = self.compiled.fgraph
        return self._fgraph

    @property
    def name(self) -> str | None:
        """Names the function in error messages."""
        return self._name

    @name.setter
    def name(self, value: str | None) -> None:
        self._name = value
        if self.compiled is not None:
            self.compiled.label = self._label()

    @property
    def c_source(self) -> str | None:
        """The generated C (mode "C"), rendered from this graph: its comments name the
        lines that built this function's nodes."""
        return None if self.compiled is None else self.compiled.c_source

    @property
    def c_path(self) -> str | None:
        """Where the module's C lives in the cache (mode "C"). It may have been built from
        the same graph made on other lines: its comments may name those."""
        return None if self.compiled is None else self.compiled.c_path

    @property
    def profile(self) -> ProfileStats | None:
        """Kernel timings and build times, when built with `profile=True` (mode "C")."""
        return None if self.compiled is None else self.compiled.profile

    @property
    def build_options(self) -> BuildOptions | None:
        """How the module was compiled (mode "C")."""
        return None if self.compiled is None else self.compiled.build_options

    @property
    def trust_input(self) -> bool:
        """Theano's trust_input: the call may skip the argument conversions. Give each
        input an ndarray of exactly its dtype and rank, C-contiguous and aligned; any
        other argument is converted as usual (by the C call path) or raises TypeError
        naming the input (Python call paths): it is never read as the wrong type."""
        return self._trust_input

    @trust_input.setter
    def trust_input(self, value: bool) -> None:
        self._trust_input = bool(value)
        self._call = self._call_path()

    def get_shared(self) -> list[SharedVariable]:
        """The shared variables the function reads (and perhaps updates)."""
        return list(self.signature.shared)

    # ----------------------------------------------------------------- calling

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if kwargs or len(args) != self._n_args or self._implicit:
            args = self._bind(args, kwargs)
        return self._call(args)

    def _call_path(self) -> Callable[[tuple], Any]:
        """`call(args)` for arguments in input order: mode "PY"'s, or mode "C"'s in C
        (`fastcall`) over the Python one, which handles what the C does not (or alone,
        when the C path cannot serve this function)."""
        if self.compiled is None:
            # The reference mode always checks and converts (trust_input is for speed).
            call = pymode.make_call(self.fgraph, self.signature, False)
        else:
            python_call = self.compiled.python_call(self._trust_input)
            call = self.compiled.c_call(python_call) or python_call
            if self.reference is not None:
                call = debugmode.make_call(call, self.fgraph, self.reference, self.signature,
                                           self._label())
        if self._prints:
            call = printing_call(call, self._prints, self._n_outputs, self._return_list)
        return call

    def loop(self, *sequences: Any, epochs: int = 1, batch_size: int | None = None,
             shuffle: int | None = None, record_every: int | None = None,
             stop_on_nan: bool = False, fixed: dict | None = None,
             progress: Any = None, specialize: bool = False) -> Any:
        """Run many steps inside C: the training loop without the Python round trips.

        Each positional argument is a sequence for one input (in order, skipping the
        inputs given in `fixed`): step k reads its row k (`batch_size=None`) or its
        k-th minibatch of `batch_size` rows (the last one may be shorter). Updates
        apply after every step, exactly as if the function were called from Python
        in the same order, so the results are bitwise identical. A sequence given as
        a list is converted as the function's arguments are (a Python int out of the
        input's range raises TypeError).

        Parameters
        ----------
        epochs : int
            Passes over the sequences.
        batch_size : int, optional
            Rows per step; None steps over single rows (the input then has one
            dimension fewer than the sequence).
        shuffle : int, optional
            Seed of a fresh row permutation per epoch (numpy's default_rng).
        record_every : int, optional
            Record the outputs every that many steps and return them stacked; by
            default, return the last step's outputs.
        stop_on_nan : bool
            Stop at the first step with a NaN/Inf output, before applying its updates,
            with a `LoopStopped` warning naming the step.
        fixed : dict, optional
            Input variable (or its name) -> value, for inputs that are not sequences.
        progress : callable, optional
            `progress(steps_done, steps_total)`, called every ~50 ms.
        specialize : bool
            Run the steps in a module compiled for this loop's shapes: every kernel
            inlined into one function whose shapes, strides and branches are
            constants (about 2x faster on small steps such as the XOR tutorial's).
            Each operation rounds as in the general module (no FMA contraction), so
            the results are the same, except that where the compiler now vectorizes
            a short loop of exp, sin... through glibc's vector math, such a value may
            differ in its last bit. It costs one compile (seconds), then comes from
            the disk cache. A loop it cannot serve (a short last batch, a plan
            that changes between steps, a step of over 64 kernels, a profiled
            function) runs the general module, with a warning saying why.

        Ctrl-C stops at a step boundary; the shared variables then hold the values
        after the last complete step.
        """
        if self.compiled is None:
            raise ValueError("loop runs compiled steps: build the function with mode='C'")
        if self._prints:
            raise ValueError("loop runs its steps in C, where a Print node cannot print: "
                             "build the function without Print")
        return run_loop(self.compiled, self.user_inputs, sequences, epochs=epochs,
                        batch_size=batch_size, shuffle=shuffle, record_every=record_every,
                        stop_on_nan=stop_on_nan, fixed=fixed, progress=progress,
                        specialize=specialize)

    def _set_input_specs(self, specs: list[In]) -> None:
        """Names, defaults and implicit flags of the inputs (from `In`)."""
        self._ins = specs
        self._binding = Binding(specs)
        self._implicit = self._binding.implicit

    def _bind(self, args: tuple, kwargs: dict) -> tuple:
        """Positional and keyword arguments, plus defaults, in input order."""
        binding = self._binding or Binding([In(v) for v in self.user_inputs])
        return binding.bind(args, kwargs, self._label())

    # ----------------------------------------------------------------- copies, pickles

    def _rebuild_args(self, name: str | None) -> tuple:
        sig = self.signature
        return (self.fgraph, len(sig.args), list(sig.shared), self._n_outputs,
                list(sig.updates), self._return_list, self.mode, name, self._allow_downcast,
                self._cfg, self._profiled, self._prints, self.reference)

    def __reduce__(self) -> tuple:
        """Pickle the graph, the shared variables (with their values) and the settings;
        unpickling rebuilds the module, from the disk cache when it is there."""
        return (_rebuild_function,
                (self._rebuild_args(self.name), self.user_inputs, self._ins))

    def copy(self, share_memory: bool = False, swap: dict | None = None,
             delete_updates: bool = False, name: str | None = None) -> Function:
        """A new Function computing the same thing (Theano's `Function.copy`).

        Parameters
        ----------
        share_memory : bool
            False (the default): the copy gets its own copies of the shared variables;
            True: it reads and updates the same ones as this function.
        swap : dict, optional
            Shared variable of this function -> shared variable of the same type that
            the copy uses in its place (read and updated).
        delete_updates : bool
            The copy applies no updates (its shared variables are only read).
        name : str, optional
            The copy's name (default: this function's).
        """
        if share_memory:
            twin = _rebuild_function(self._rebuild_args(name or self.name), self.user_inputs,
                                     self._ins)
        else:
            twin = pickle.loads(pickle.dumps(self))
            twin.name = name or self.name
        if swap or delete_updates:
            twin = twin._swapped(self._swap_map(swap or {}), delete_updates)
        return twin

    def _swap_map(self, swap: dict) -> dict[int, SharedVariable]:
        """`copy`'s `swap`, checked: position in `signature.shared` -> new variable."""
        shared = self.signature.shared
        by_position = {}
        for old, new in swap.items():
            where = [i for i, s in enumerate(shared) if s is old]
            if not where:
                raise ValueError(f"copy(swap=...): {old!r} is not a shared variable of "
                                 f"{self._label()}")
            if not isinstance(new, SharedVariable) or new.type != old.type:
                raise TypeError(f"copy(swap=...): {old!r} ({old.type}) can only be swapped "
                                f"for a shared variable of the same type, not {new!r} "
                                f"({getattr(new, 'type', type(new).__name__)})")
            by_position[where[0]] = new
        return by_position

    def _swapped(self, swap: dict[int, SharedVariable], delete_updates: bool) -> Function:
        """This function with the shared variables at the positions of `swap` replaced,
        and without its updates if `delete_updates`."""
        args = list(self._rebuild_args(self.name))
        sig = self.signature
        shared = [swap.get(i, s) for i, s in enumerate(sig.shared)]
        args[2] = shared
        args[4] = [shared[i] for i in sig.update_index]
        if delete_updates:
            n_kept = len(self.fgraph.outputs) - len(sig.updates)
            args[0] = FunctionGraph(self.fgraph.inputs, self.fgraph.outputs[:n_kept])
            args[4] = []
        return _rebuild_function(tuple(args), self.user_inputs, self._ins)

    def __copy__(self) -> Function:
        return self.copy()

    def _label(self) -> str:
        return f"function {self.name!r}" if self.name else "compiled function"

    def __repr__(self) -> str:
        return f"<cgraph.Function {self.name or ''} mode={self.mode}>"

    # White-box tests read the compiled module's parts under these names.
    _lowered = property(lambda self: self.compiled.lowered)
    _module = property(lambda self: self.compiled.module)
    _plans = property(lambda self: self.compiled.plans)
    _plan = property(lambda self: self.compiled.make_plan)
    _from_buffer = property(lambda self: self.compiled.from_buffer)
    _shared = property(lambda self: list(self.signature.shared))
    _c_source = property(lambda self: self.compiled.c_source
                         if self.compiled.source_rendered else None)


def _rewritten(inputs: list[Variable], outputs: list[Variable], cfg: Config,
               n_updates: int = 0) -> FunctionGraph:
    """The graph from `inputs` to `outputs` (the last `n_updates` of them updates of
    shared variables), rewritten."""
    fgraph = FunctionGraph(inputs, outputs)
    fgraph.n_updates = n_updates  # what step fusion keeps apart (rewrite/step_fusion.py)
    rewrite_graph(fgraph, cfg)
    return fgraph


def _rebuild_function(args: tuple, user_inputs: list[Variable], specs: list | None = None
                      ) -> Function:
    f = Function(*args)
    f.user_inputs = list(user_inputs)
    if specs is not None:
        f._set_input_specs(specs)
    return f


@gc_paused
def function(inputs: Sequence[Variable], outputs: Any = None, updates: Any = None,
             givens: Any = None, mode: str | None = None, name: str | None = None,
             allow_input_downcast: bool | None = None,
             on_unused_input: str = "raise", profile: bool = False,
             no_default_updates: Any = False, trust_input: bool = False) -> Function:
    """Compile `outputs` as a function of `inputs`, with shared-variable `updates`.

    Parameters
    ----------
    inputs : list of Variable or In
        The function's arguments, in order (`In` adds a name and a default value).
    outputs : Variable or list of Variable (or Out), optional
        What to compute; a list in gives a list out.
    updates : list of (SharedVariable, expression) pairs, or dict
        New values for shared variables, all computed from the values before the call.
    givens : list of pairs or dict, optional
        Substitutions (variable -> expression) applied before compiling. A replacement
        has the variable's rank and dtype (a lossless cast is made, a lossy one raises
        TypeError: cast it); static lengths it does not state are checked at each call.
    mode : {"C", "PY", "DebugMode", "FAST_RUN", "FAST_COMPILE"}, optional
        Default `config.mode`. "C" (Theano's "FAST_RUN") compiles the rewritten graph;
        "FAST_COMPILE" too, with merge and constant folding only; "PY" runs the graph
        as built, unrewritten, with the ops' numpy references; "DebugMode" (or
        "DEBUG_MODE") runs both on each call and raises `DebugModeError` naming the
        first rewritten node that disagrees (`cgraph.compile.debugmode`).
    name : str, optional
        Used in error messages and printing.
    allow_input_downcast : bool, optional
        Accept lossy input conversions (e.g. float64 data for a float32 input).
    on_unused_input : {"raise", "warn", "ignore"}
        What to do with an input that the outputs do not depend on.
    profile : bool
        Time each kernel (see `Function.profile`); also `config.profile`.
    no_default_updates : bool or list of SharedVariable
        Skip the `default_update` of all (True) or of these shared variables.
    trust_input : bool
        The call may skip the argument conversions: give ndarrays of the inputs' exact
        dtypes and ranks, C-contiguous (see `Function.trust_input`).

    Two inputs may have the same name; passing that name as a keyword then raises
    TypeError. `Print` nodes in the outputs print their values after each call.
    """
    specs = [v if isinstance(v, In) else In(v) if isinstance(v, Variable) else v
             for v in inputs]
    inputs = [s.variable if isinstance(s, In) else s for s in specs]
    for i, v in enumerate(inputs):
        if not isinstance(v, Variable):
            raise TypeError(f"input {i} is not a symbolic variable: {v!r}")
        if isinstance(v, (Constant, SharedVariable)) or v.owner is not None:
            raise TypeError(f"input {i} ({v!r}) must be a free variable, not a constant, a "
                            "shared variable or an expression")
    if len({id(v) for v in inputs}) != len(inputs):
        raise ValueError("the same variable appears twice in the inputs")
    return_list = isinstance(outputs, (list, tuple))
    out_list = [] if outputs is None else list(outputs) if return_list else [outputs]
    out_list = [as_tensor_variable(o.variable if isinstance(o, Out) else o) for o in out_list]
    pairs = update_pairs(updates)
    computed = out_list + [value for _, value in pairs]
    walked = walk(computed)  # the one traversal, unless the graph changes below
    found = default_updates(computed, pairs, no_default_updates, walked.leaves)
    pairs += found
    computed += [value for _, value in found]
    if givens:
        computed = clone_replace(computed, as_givens(givens))
    if found or givens:
        walked = walk(computed)
    prints = []
    if walked.form is None or any(isinstance(op, Print) for op in walked.form.ops):
        computed, prints = strip_prints(computed, walked.nodes)
    if prints:
        computed[len(out_list):len(out_list)] = [value for _, value in prints]
        walked = walk(computed)
    used = {id(v) for v in walked.leaves}
    if on_unused_input not in ("raise", "warn", "ignore"):
        raise ValueError(f"on_unused_input must be 'raise', 'warn' or 'ignore', "
                         f"got {on_unused_input!r}")
    for i, v in enumerate(inputs):
        if id(v) not in used and on_unused_input != "ignore":
            message = (f"input {i} ({v!r}) is not used to compute the outputs; pass "
                       "on_unused_input='ignore' to allow it")
            if on_unused_input == "raise":
                raise UnusedInputError(message)
            warnings.warn(message, stacklevel=2)
    shared_in = [v for v in walked.leaves if isinstance(v, SharedVariable)]
    # A shared variable that is updated but read by nothing is still an argument: the
    # update is written into its storage (optimizers keep such accumulators).
    shared_in += [t for t, _ in pairs if all(t is not v for v in shared_in)]
    mode = mode or config.mode
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; use one of {', '.join(map(repr, MODES))}")
    mode, optimizer = MODES[mode]
    cfg = copy.copy(config)
    cfg.optimizer = optimizer or cfg.optimizer
    started = time.perf_counter()
    # Mode "C": a record of this graph as built may hold its rewritten, lowered form.
    key = (graph_key(inputs + shared_in, computed, config, cfg.optimizer,
                     bool(profile or config.profile), walked, len(computed) - len(pairs),
                     [t for t, _ in pairs]) if mode == "C" else None)
    warm = None if key is None else restore(key, inputs + shared_in, computed, config)
    reference = prepared = None
    if warm is not None:
        fgraph, rewrites, prepared = warm
        prepared.remake = functools.partial(_rewritten, inputs + shared_in, computed, cfg,
                                            len(pairs))
    else:
        fgraph = FunctionGraph(inputs + shared_in, computed)
        if mode == "DebugMode":  # the graph as built, and a copy that remembers the rewrites
            reference, fgraph = fgraph, debugmode.TracedGraph(fgraph)
        fgraph.n_updates = len(pairs)  # what step fusion keeps apart (rewrite/step_fusion.py)
        rewrites = {} if mode == "PY" else rewrite_graph(fgraph, cfg)  # PY: the oracle
    rewrite_seconds = time.perf_counter() - started
    # A miss records its graph, pickled while the module compiles.
    dump = GraphDump(fgraph) if key is not None and warm is None else None
    f = Function(fgraph, len(inputs), shared_in, len(out_list), [t for t, _ in pairs],
                 return_list, mode, name, allow_input_downcast, config, profile,
                 [op for op, _ in prints], reference, prepared, dump)
    if key is not None:  # records the graph (a miss) and the plans of new call shapes
        keep_record(key, f.compiled, None if warm else fgraph, rewrites, config, dump)
    f.trust_input = trust_input
    f.user_inputs = inputs  # the caller's variables (fgraph holds clones)
    f.rewrites = rewrites  # pass -> {rule: times fired}
    if f.profile is not None:
        f.profile.compile_times = {"rewrite": rewrite_seconds, **f.profile.compile_times}
    f._set_input_specs(specs)
    return f
