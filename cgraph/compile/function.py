"""`cgraph.function`: compile a graph with updates into a callable.

Mode "C" lowers the graph, renders C, builds (or loads from the cache) a native
module and calls its one entry per call. Mode "PY" evaluates the same graph with
each op's numpy reference and needs no compiler.
"""

from __future__ import annotations

import copy
import ctypes.util
import functools
import math
import pickle
import shlex
import sys
import time
import warnings
from collections.abc import Sequence
from threading import get_ident
from typing import Any

import numpy as np

from cgraph import backend
from cgraph.codegen import ShapeError, cdef, header_paths, lower, make_plan, render
from cgraph.codegen.kernels import uses_blas
from cgraph.codegen.plan import Buffer, Plan, allocation_error
from cgraph.codegen.render import csrc_dir, keep_bytecode_in, program_key
from cgraph.compile import errors, fastcall
from cgraph.compile.fastcall import plan_key
from cgraph.compile.io import In, Out
from cgraph.compile.loop import run_loop
from cgraph.compile.profiling import ProfileStats
from cgraph.compile.shared import SharedVariable
from cgraph.configdefaults import Config, config
from cgraph.graph.basic import Constant, Variable, clone_replace, graph_inputs, toposort
from cgraph.graph.fg import FunctionGraph
from cgraph.graph.labels import node_labels
from cgraph.graph.lazy import guards, holds
from cgraph.rewrite import rewrite_graph
from cgraph.tensor.shape import checked_size
from cgraph.tensor.type import TensorVariable, as_tensor_variable

__all__ = ["Function", "UnusedInputError", "function"]

VERSION = "0.1.0"


class UnusedInputError(ValueError):
    """An input of `function` that the outputs do not depend on."""


def build_options(cfg: Config) -> backend.BuildOptions:
    """Compiler options from the configuration."""
    cflags = tuple(shlex.split(cfg.cflags))
    link: tuple[str, ...] = ()
    if cfg.sanitize:
        sanitizers = ("-fsanitize=address,undefined", "-fno-sanitize-recover=undefined")
        cflags += (*sanitizers, "-fno-omit-frame-pointer", "-g")
        link += sanitizers
    if cfg.blas_one_thread_below:
        cflags += (f"-DCG_BLAS_MT_WORK={cfg.blas_one_thread_below}LL",)
    if cfg.blas_threads == "library":
        cflags += ("-DCG_BLAS_AUTO=0",)
    if cfg.openmp:
        cflags += ("-fopenmp", f"-DCG_NUM_THREADS={cfg.num_threads}")
        link += ("-fopenmp",)
    if has_libmvec():
        libraries = ("mvec", "m")
    else:
        libraries = ("m",)
        cflags += ("-DCG_NO_SIMD_MATH",)
    return backend.BuildOptions(
        cc=cfg.cc,
        cflags=cflags,
        include_dirs=(str(csrc_dir()),),
        libraries=libraries,
        extra_link_args=link,
    )


@functools.cache
def has_libmvec() -> bool:
    """Whether glibc's vector math library is there (csrc/cg_simd.h declares its
    functions, so loops calling exp, sin... vectorise)."""
    if not sys.platform.startswith("linux"):
        return False
    try:  # loading it takes 0.1 ms; ctypes.util.find_library runs ldconfig (2.5 ms)
        ctypes.CDLL("libmvec.so.1")
    except OSError:
        return ctypes.util.find_library("mvec") is not None
    return True


class _Input:
    """How one argument is checked and converted (kept small for the call path)."""

    __slots__ = ("dtype", "ndim", "type", "label", "allow_downcast", "safe_dtypes")

    def __init__(self, var: Variable, position: int, allow_downcast: bool | None):
        self.type = var.type
        self.dtype = np.dtype(var.type.dtype)
        self.ndim = var.type.ndim
        name = f" ({var.name})" if var.name else ""
        self.label = f"input {position}{name} of type {var.type}"
        self.allow_downcast = allow_downcast
        # Array dtypes converted without a loss (numpy's "safe" casting).
        self.safe_dtypes = frozenset(
            np.dtype(c) for c in "?bhilqBHILQefd" if np.can_cast(c, self.dtype, "safe"))

    def convert(self, value: Any) -> np.ndarray:
        """Convert, check, and make C-contiguous; errors name the input.

        Common lossless cases (an int64 array for a float64 input, a Python number
        for a float scalar) skip the general `TensorType.filter`.
        """
        kind = type(value)
        if kind is np.ndarray:
            if value.ndim == self.ndim and value.dtype in self.safe_dtypes:
                return value.astype(self.dtype, order="C")
        elif (kind is float or kind is int) and self.ndim == 0 and self.dtype.kind == "f":
            # A numpy scalar: shaped (), exposes its bytes to cffi, 2x cheaper to make.
            try:
                return self.dtype.type(float(value))
            except OverflowError:  # an int past the largest float
                raise TypeError(f"bad argument for {self.label}: {value} is out of the range "
                                f"of {self.dtype}") from None
        try:
            arr = self.type.filter(value, allow_downcast=self.allow_downcast)
        except (TypeError, ValueError) as err:
            raise type(err)(f"bad argument for {self.label}: {err}") from None
        flags = arr.flags
        return arr if flags.c_contiguous and flags.aligned else np.array(arr, order="C")


class Function:
    """A compiled function. Call it with numpy arrays (or lists and numbers).

    Attributes
    ----------
    c_source : str or None
        The generated C (mode "C").
    c_path : str or None
        Where that C lives in the cache (built perhaps from the same graph made on
        other lines: its comments may name those; `c_source` names this one's).
    fgraph : FunctionGraph
        The graph that was compiled.
    """

    def __init__(self, fgraph: FunctionGraph, n_inputs: int, shared_in: list[SharedVariable],
                 n_outputs: int, update_targets: list[SharedVariable], return_list: bool,
                 mode: str, name: str | None, allow_downcast: bool | None, cfg: Config,
                 profile: bool = False):
        self.fgraph = fgraph
        self.name = name
        self.mode = mode
        self._n_inputs = n_inputs
        self._inputs = [
            _Input(v, i, allow_downcast) for i, v in enumerate(fgraph.inputs[:n_inputs])
        ]
        self._shared = shared_in
        self._n_outputs = n_outputs
        self._updates = update_targets
        self._return_list = return_list
        self._allow_downcast = allow_downcast
        #: Skip the argument checks: only for ndarrays of exactly the inputs' dtypes,
        #: ranks and C-contiguous layouts (Theano's trust_input).
        self._trust_input = False
        self._call = self._call_generic
        self._implicit = False  # an In(..., implicit=True): arguments always need binding
        self._cfg = copy.copy(cfg)  # the settings it was built with (pickling, copies)
        self.user_inputs: list[Variable] = list(fgraph.inputs[:n_inputs])
        self._plans: dict[tuple, tuple] = {}
        self._c_plans: dict[bytes, tuple] = {}  # the same plans, for the C call path
        self._c_source: str | None = None
        self.c_path: str | None = None
        self.profile: ProfileStats | None = None
        self._profile = bool(profile or cfg.profile) and mode == "C"
        if mode == "C":
            self._build(cfg)
        self._out_dtypes = [np.dtype(v.type.dtype) for v in self.fgraph.outputs]
        if mode == "C":
            self._call = self._make_fast_call()

    # ----------------------------------------------------------------- building

    @property
    def c_source(self) -> str | None:
        """The generated C (mode "C"); read from the cache when the module was found
        there without rendering."""
        if self._c_source is None and self.c_path is not None:
            # Rendered rather than read from c_path: the cached file may have been
            # built from the same graph made on other lines (they are not in the key).
            self._c_source = render(self._lowered.program, VERSION, profile=self._profile)
        return self._c_source

    def _build(self, cfg: Config) -> None:
        started = time.perf_counter()
        if cfg.c_call:  # the C call path compiles (once per machine) alongside the module
            fastcall.start(cfg.cc, cfg.cache_dir or None, cfg.sanitize)
        # Before lowering, which renders the C of inner programs (scan).
        keep_bytecode_in(backend.private_subdir("jinja", cfg.cache_dir or None))
        update_of = {self._n_outputs + k: self._n_inputs + self._shared.index(target)
                     for k, target in enumerate(self._updates)}
        self._lowered = lower(self.fgraph, update_of)
        lowered = time.perf_counter()
        program = self._lowered.program
        self.build_options = build_options(cfg)
        if uses_blas(program.steps):  # only modules that call BLAS link it
            self.build_options = backend.with_blas(self.build_options)
        self.version = VERSION
        declarations = cdef(program, self._profile)
        # A warm start finds the module by the program's name and skips rendering.
        index_key = program_key(program, VERSION, str(self._profile), declarations,
                                repr(self.build_options))
        compiles = backend.stats.compiles
        cache_dir = cfg.cache_dir or None
        module = backend.load_indexed(index_key, self.build_options, cache_dir)
        looked_up = rendered = time.perf_counter()
        if module is None:
            self._c_source = render(program, VERSION, profile=self._profile)
            rendered = time.perf_counter()
            try:
                module = backend.load_module(self._c_source, declarations,
                                             self.build_options, depends=header_paths(),
                                             root=cache_dir, key_text=index_key)
            except backend.CompileError as err:
                raise errors.point_at_kernels(err, program) from None
            backend.record_index(index_key, module, self.build_options, cache_dir)
        loaded = time.perf_counter()
        if self._profile:
            counters = module.ffi.buffer(getattr(module.lib, program.entry + "_profile")(),
                                         16 * max(len(program.steps), 1))
            built = loaded - rendered if backend.stats.compiles > compiles else 0.0
            self.profile = ProfileStats(
                [s.kernel.comment for s in program.steps],
                np.frombuffer(counters, dtype=np.float64),
                {"lower": lowered - started, "render": rendered - looked_up,
                 "compile": built, "load": looked_up - lowered + loaded - rendered - built},
                nodes=[n for n in self._lowered.nodes if id(n) in self._lowered.kernels])
        self.c_path = str(module.c_path)
        self._module = module
        ffi = module.ffi
        self._from_buffer = ffi.from_buffer
        self._entry = getattr(module.lib, program.entry)
        # One error buffer per thread: cffi releases the GIL during the call, so
        # concurrent failing calls must not write into the same message buffer.
        self._errbufs: dict[int, Any] = {}
        self._constants = [ffi.from_buffer(c) for c in self._lowered.arg_constants]
        self._constant_data = self._lowered.arg_constants  # keeps the buffers alive
        # Shapes that depend on argument values: scalars join the plan key; arrays
        # (e.g. a boolean mask) make every call plan afresh.
        value_args = self._lowered.value_args
        self._replan_each_call = any(self._inputs_ndim(i) > 0 for i in value_args)
        self._value_args = () if self._replan_each_call else value_args

    def _inputs_ndim(self, position: int) -> int:
        return self.fgraph.inputs[position].type.ndim

    def _plan(self, key: tuple, arrays: list[np.ndarray]) -> tuple:
        shapes = key[:len(arrays)]
        for var, shape in zip(self.fgraph.inputs, shapes):
            for axis, (want, got) in enumerate(zip(var.type.shape, shape)):
                if want is not None and want != got:
                    raise ValueError(f"input {var!r} has static shape {var.type}, but got "
                                     f"shape {shape} (axis {axis})")
        try:
            plan = make_plan(self._lowered, shapes,
                             arrays if self._lowered.value_args else None)
        except ShapeError as err:
            raise errors.explain_shape_error(err, self.fgraph,
                                             self._cfg.exception_verbosity) from None
        except MemoryError as err:
            raise MemoryError(f"{self._label()}: {err}") from None
        self._check_allocation(plan, shapes)
        if self.profile is not None:
            self.profile.set_plan(plan)
        P = plan.params
        entry = (self._from_buffer("int64_t[]", P), plan.out_shapes, P, plan.inplace)
        if self._replan_each_call:
            return entry
        if len(self._plans) > 256:
            self._plans.clear()
            self._c_plans.clear()
        self._plans[key] = entry
        if not self._value_args:
            self._c_plans[plan_key(shapes)] = (  # P's address, out dims, all in place
                int(self._module.ffi.cast("uintptr_t", entry[0])),
                plan_key(plan.out_shapes[:self._n_outputs]), all(plan.inplace), entry)
        return entry

    def _check_allocation(self, plan: Plan, shapes: tuple) -> None:
        """Allocate once (and free) the workspace and the outputs a call with `plan`
        makes: a MemoryError naming the array, its node, the input shapes and the size
        when one cannot be had, before any kernel runs and before the plan is kept."""
        held = []
        wanted = [("the workspace", plan.workspace, plan.largest)]
        n_out = self._n_outputs
        for k, (v, shape, dtype) in enumerate(zip(self.fgraph.outputs, plan.out_shapes,
                                                  self._out_dtypes)):
            if k >= n_out and plan.inplace[k - n_out]:
                continue  # written into the shared variable's storage
            what = (f"output {k}" if k < n_out
                    else f"the new value of shared variable {self._updates[k - n_out]!r}")
            nbytes = math.prod(shape) * dtype.itemsize
            wanted.append((what, nbytes, Buffer(v.owner, shape, dtype.name, nbytes)))
        for what, nbytes, buffer in wanted:
            try:
                held.append(np.empty(nbytes, np.uint8))
            except MemoryError:
                labels = node_labels(self.fgraph.outputs)
                err = allocation_error(what, nbytes, shapes, buffer, labels)
                raise MemoryError(f"{self._label()}: {err}") from None

    # ----------------------------------------------------------------- calling

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if kwargs or len(args) != self._n_inputs or self._implicit:
            args = self._bind(args, kwargs)
        return self._call(args)

    @property
    def trust_input(self) -> bool:
        """Skip the argument checks: only for ndarrays of exactly the inputs' dtypes,
        ranks and C-contiguous layouts (Theano's trust_input)."""
        return self._trust_input

    @trust_input.setter
    def trust_input(self, value: bool) -> None:
        self._trust_input = bool(value)
        if self.mode == "C":
            self._call = self._make_fast_call()

    def _make_fast_call(self) -> Any:
        """The call path of mode "C": in C (fastcall.py) over the Python one, which
        handles what the C does not, or the Python one alone (also for a function too
        big for the C path's tables)."""
        python_call = self._make_python_call()
        make_caller = None
        if not self._value_args and not self._replan_each_call and self._cfg.c_call:
            make_caller = fastcall.factory(self._cfg.cc, self._cfg.cache_dir or None,
                                           self._cfg.sanitize)
        if make_caller is None:
            return python_call
        lib, ffi = self._module.lib, self._module.ffi
        entry = int(ffi.cast("uintptr_t", ffi.addressof(lib, self._lowered.program.entry
                                                         + "_argv")))
        outputs = self.fgraph.outputs[:self._n_outputs]
        caller = make_caller((
            entry,
            tuple(spec.dtype.num for spec in self._inputs),
            tuple(spec.ndim for spec in self._inputs),
            tuple(d.num for d in self._out_dtypes[:self._n_outputs]),
            tuple(v.type.ndim for v in outputs),
            len(self._updates),
            tuple(self._lowered.arg_constants),
            tuple(spec.convert for spec in self._inputs),
            tuple(self._shared),
            self._c_plans,
            python_call,
            self._c_call_failed,
            self._return_list,
        ))
        return python_call if caller is None else caller

    def _c_call_failed(self, rc: int, message: bytes, args: list) -> None:
        """Raise the error of a failed call of the C path (its arguments as given)."""
        arrays = [spec.convert(a) if type(a) is not np.ndarray else a
                  for spec, a in zip(self._inputs, args)]
        arrays += [s._value for s in self._shared]
        raise errors.c_runtime_error(self, rc, message.decode(errors="replace"), arrays)

    def _make_python_call(self) -> Any:
        """The C call path as a closure over everything it needs (no attribute lookups
        per call): check arguments, find the plan, allocate outputs, one C call."""
        checks = [(spec, spec.dtype, spec.ndim) for spec in self._inputs]
        shared, updates, n_out = self._shared, self._updates, self._n_outputs
        plans, plan_for, entry, fb = self._plans, self._plan, self._entry, self._from_buffer
        all_dtypes, constants, errbufs = self._out_dtypes, self._constants, self._errbufs
        out_dtypes = all_dtypes[:n_out]
        no_updates = (self._module.ffi.NULL,) * len(updates)
        value_args, replan = self._value_args, self._replan_each_call
        return_list, trust = self._return_list, self._trust_input
        ndarray, empty, new_errbuf = np.ndarray, np.empty, self._module.ffi.new

        def call(args: tuple) -> Any:
            arrays = []
            shapes = []
            if trust:
                arrays = list(args)
                shapes = [a.shape for a in arrays]
            else:
                for (spec, dtype, ndim), a in zip(checks, args):
                    if (a.__class__ is not ndarray or a.dtype is not dtype or a.ndim != ndim
                            or not (flags := a.flags).c_contiguous or not flags.aligned):
                        a = spec.convert(a)
                    arrays.append(a)
                    shapes.append(a.shape)
            for s in shared:
                value = s._value
                arrays.append(value)
                shapes.append(value.shape)
            key = tuple(shapes)
            if value_args:  # shapes depend on these (scalar) arguments' values
                key += tuple([arrays[i].item() for i in value_args])
            plan = None if replan else plans.get(key)
            if plan is None:
                plan = plan_for(key, arrays)
            P, out_shapes, _, inplace = plan
            errbuf = errbufs.get(get_ident())
            if errbuf is None:
                errbuf = errbufs[get_ident()] = new_errbuf("char[512]")
            if all(inplace):  # the updates go straight into the shared storage
                outs = list(map(empty, out_shapes[:n_out], out_dtypes))
                rc = entry(P, errbuf, *map(fb, arrays), *map(fb, outs), *no_updates,
                           *constants)
                if rc:
                    self._raise_c_error(rc, errbuf, arrays)
            else:  # an update changes a shape: it comes back as a new array
                outs = list(map(empty, out_shapes, all_dtypes))
                rc = entry(P, errbuf, *map(fb, arrays), *map(fb, outs), *constants)
                if rc:
                    self._raise_c_error(rc, errbuf, arrays)
                for target, value, same in zip(updates, outs[n_out:], inplace):
                    if not same:
                        target._value = value
            if return_list:
                return outs[:n_out]
            return outs[0] if n_out == 1 else None

        return call

    def _raise_c_error(self, rc: int, errbuf: Any, arrays: list) -> None:
        message = self._module.ffi.string(errbuf).decode(errors="replace")
        raise errors.c_runtime_error(self, rc, message, arrays)

    def _call_generic(self, args: tuple) -> Any:
        """The call path of mode "PY" (mode "C" uses `_make_fast_call`)."""
        if self._trust_input:
            arrays = list(args)
        else:
            arrays = []
            for spec, a in zip(self._inputs, args):
                if (type(a) is not np.ndarray or a.dtype is not spec.dtype
                        or a.ndim != spec.ndim or not (flags := a.flags).c_contiguous
                        or not flags.aligned):
                    a = spec.convert(a)
                arrays.append(a)
        for s in self._shared:
            arrays.append(s._value)
        outs = self._call_py(arrays)
        for target, value in zip(self._updates, outs[self._n_outputs:]):
            target._value = value
        if self._return_list:
            return outs[:self._n_outputs]
        return outs[0] if self._n_outputs == 1 else None

    def _call_py(self, arrays: list[np.ndarray]) -> list[np.ndarray]:
        values: dict[int, np.ndarray] = {id(v): a for v, a in zip(self.fgraph.inputs, arrays)}
        nodes = self.fgraph.toposort()
        node_guards = guards(self.fgraph.outputs, nodes)
        by_id = {id(n): n for n in nodes}

        def taken(ifelse_id: int) -> int:  # computes the condition first if need be
            cond = by_id[ifelse_id].inputs[0]
            self._evaluate(toposort([cond]), values, {}, taken)
            return by_id[ifelse_id].op.taken(values[id(cond)])

        self._evaluate(nodes, values, node_guards, taken)
        results = []
        for v, dtype in zip(self.fgraph.outputs, self._out_dtypes):
            value = values[id(v)] if id(v) in values else v.data
            results.append(np.array(value, dtype=dtype, copy=True))
        return results

    @staticmethod
    def _evaluate(nodes: list, values: dict, node_guards: dict, taken: Any) -> None:
        """Run the numpy references of `nodes` (skipping lazy branches not taken)."""
        for node in nodes:
            if id(node.outputs[0]) in values:
                continue
            guard = node_guards.get(id(node))
            if guard is not None and not holds(guard, taken):
                continue
            inputs = []
            for v in node.inputs:
                if id(v) not in values:
                    values[id(v)] = v.data if hasattr(v, "data") else None  # branch not taken
                inputs.append(values[id(v)])
            extra = ([[a if i in node.op.value_inputs else None for i, a in enumerate(inputs)]]
                     if node.op.value_inputs else [])
            in_shapes = ", ".join(str(np.shape(a)) for a in inputs)
            try:
                out_shapes = node.op.infer_shape(node, [np.shape(a) for a in inputs], *extra)
                for out, shape in zip(node.outputs, out_shapes):
                    checked_size(shape, out.type.dtype, "the result")
            except ValueError as err:
                raise ShapeError(f"{err}\n  in node {node.op}\n  input shapes: "
                                 f"{in_shapes}") from None
            except NotImplementedError:
                pass  # no shape rule: perform alone checks its inputs
            try:
                results = node.op.perform(node, inputs)
            except MemoryError as err:
                raise MemoryError(f"{err}\n  in node {node.op}\n  input shapes: "
                                  f"{in_shapes}") from None
            for out, value in zip(node.outputs, results):
                values[id(out)] = np.asarray(value)

    def loop(self, *sequences: Any, epochs: int = 1, batch_size: int | None = None,
             shuffle: int | None = None, record_every: int | None = None,
             stop_on_nan: bool = False, fixed: dict | None = None,
             progress: Any = None) -> Any:
        """Run many steps inside C: the training loop without the Python round trips.

        Each positional argument is a sequence for one input (in order, skipping the
        inputs given in `fixed`): step k reads its row k (`batch_size=None`) or its
        k-th minibatch of `batch_size` rows (the last one may be shorter). Updates
        apply after every step, exactly as if the function were called from Python
        in the same order, so the results are bitwise identical.

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

        Ctrl-C stops at a step boundary; the shared variables then hold the values
        after the last complete step.
        """
        return run_loop(self, sequences, epochs=epochs, batch_size=batch_size,
                        shuffle=shuffle, record_every=record_every, stop_on_nan=stop_on_nan,
                        fixed=fixed, progress=progress)

    def _set_input_specs(self, specs: list[In]) -> None:
        """Names, defaults and implicit flags of the inputs (from `In`)."""
        self._specs = specs
        self._by_name = {s.name: i for i, s in enumerate(specs) if s.name}
        self._implicit = any(s.implicit for s in specs)

    def _bind(self, args: tuple, kwargs: dict) -> tuple:
        """Positional and keyword arguments, plus defaults, in input order."""
        specs = getattr(self, "_specs", [In(v) for v in self.user_inputs])
        if not kwargs and all(s.value is None for s in specs):
            raise TypeError(f"{self._label()} takes {len(specs)} argument(s), "
                            f"got {len(args)}")
        positional = [i for i, s in enumerate(specs) if not s.implicit]
        if len(args) > len(positional):
            raise TypeError(f"{self._label()} takes {len(positional)} positional "
                            f"argument(s), got {len(args)}")
        values: dict[int, Any] = dict(zip(positional, args))
        for key, value in kwargs.items():
            i = self._by_name.get(key) if hasattr(self, "_by_name") else None
            if i is None:
                raise TypeError(f"{self._label()} has no input named {key!r}")
            if i in values:
                raise TypeError(f"{self._label()} got input {key!r} twice")
            values[i] = value
        for i, s in enumerate(specs):
            if i not in values:
                if s.value is None:
                    raise TypeError(f"{self._label()}: missing input {i} "
                                    f"({s.name or s.variable!r})")
                values[i] = s.value
        return tuple(values[i] for i in range(len(specs)))

    # ----------------------------------------------------------------- copies, pickles

    def __reduce__(self) -> tuple:
        """Pickle the graph, the shared variables (with their values) and the settings;
        unpickling rebuilds the module, from the disk cache when it is there."""
        args = (self.fgraph, self._n_inputs, self._shared, self._n_outputs, self._updates,
                self._return_list, self.mode, self.name, self._allow_downcast, self._cfg,
                self._profile)
        return (_rebuild_function, (args, self.user_inputs, getattr(self, "_specs", None)))

    def copy(self, share_memory: bool = False, name: str | None = None) -> Function:
        """A new Function computing the same thing (Theano's `Function.copy`).

        With `share_memory=False` (the default) it gets its own copies of the shared
        variables; with True it reads and updates the same ones as this function.
        """
        if share_memory:
            args = (self.fgraph, self._n_inputs, self._shared, self._n_outputs,
                    self._updates, self._return_list, self.mode, name or self.name,
                    self._allow_downcast, self._cfg, self._profile)
            return _rebuild_function(args, self.user_inputs, getattr(self, "_specs", None))
        twin = pickle.loads(pickle.dumps(self))
        twin.name = name or self.name
        return twin

    def __copy__(self) -> Function:
        return self.copy()

    def _label(self) -> str:
        return f"function {self.name!r}" if self.name else "compiled function"

    def __repr__(self) -> str:
        return f"<cgraph.Function {self.name or ''} mode={self.mode}>"


def _rebuild_function(args: tuple, user_inputs: list[Variable], specs: list | None = None
                      ) -> Function:
    f = Function(*args)
    f.user_inputs = list(user_inputs)
    if specs is not None:
        f._set_input_specs(specs)
    return f


def _as_update_pairs(updates: Any) -> list[tuple[SharedVariable, TensorVariable]]:
    if updates is None:
        return []
    items = list(updates.items()) if isinstance(updates, dict) else list(updates)
    pairs = []
    seen = set()
    for item in items:
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            raise TypeError(f"updates must be (shared variable, expression) pairs, got {item!r}")
        target, value = item
        if not isinstance(target, SharedVariable):
            raise TypeError(f"update target {target!r} is not a shared variable")
        if id(target) in seen:
            raise ValueError(f"shared variable {target!r} is updated twice")
        seen.add(id(target))
        value = as_tensor_variable(value)
        if value.ndim != target.ndim:
            raise TypeError(f"the update of {target!r} ({target.type}) has type {value.type}: "
                            "ranks differ")
        if value.dtype != target.dtype:
            if not np.can_cast(value.dtype, target.dtype, casting="same_kind"):
                raise TypeError(f"the update of {target!r} ({target.type}) has dtype "
                                f"{value.dtype}; cast it explicitly")
            value = value.astype(target.dtype)
        pairs.append((target, value))
    return pairs


def function(inputs: Sequence[Variable], outputs: Any = None, updates: Any = None,
             givens: Any = None, mode: str | None = None, name: str | None = None,
             allow_input_downcast: bool | None = None,
             on_unused_input: str = "raise", profile: bool = False,
             no_default_updates: Any = False) -> Function:
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
        Substitutions (variable -> expression) applied before compiling.
    mode : {"C", "PY"}, optional
        Compiled C (default: `config.mode`) or the numpy reference.
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
    pairs = _as_update_pairs(updates)
    pairs += _default_updates(out_list + [value for _, value in pairs], pairs,
                              no_default_updates)
    computed = out_list + [value for _, value in pairs]
    if givens:
        replace = dict(givens.items() if isinstance(givens, dict) else givens)
        replace = {k: as_tensor_variable(v) for k, v in replace.items()}
        computed = clone_replace(computed, replace)
    leaves = graph_inputs(computed)
    used = {id(v) for v in leaves}
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
    shared_in = [v for v in leaves if isinstance(v, SharedVariable)]
    fgraph = FunctionGraph(inputs + shared_in, computed)
    started = time.perf_counter()
    rewrites = rewrite_graph(fgraph, config)
    rewrite_seconds = time.perf_counter() - started
    mode = mode or config.mode
    if mode not in ("C", "PY"):
        raise ValueError(f"unknown mode {mode!r}; use 'C' or 'PY'")
    f = Function(fgraph, len(inputs), shared_in, len(out_list), [t for t, _ in pairs],
                 return_list, mode, name, allow_input_downcast, config, profile)
    f.user_inputs = inputs  # the caller's variables (fgraph holds clones)
    f.rewrites = rewrites  # pass -> {rule: times fired}
    if f.profile is not None:
        f.profile.compile_times = {"rewrite": rewrite_seconds, **f.profile.compile_times}
    f._set_input_specs(specs)
    return f


def _default_updates(computed: list[Variable], explicit: list, no_default_updates: Any
                     ) -> list[tuple[SharedVariable, TensorVariable]]:
    """(shared, default_update) for the shared variables the graph uses that have one,
    unless updated explicitly or excluded by `no_default_updates` (True or a list)."""
    if no_default_updates is True:
        return []
    excluded = {id(v) for v in (no_default_updates or ())}
    excluded |= {id(t) for t, _ in explicit}
    found = []
    for v in graph_inputs(computed):
        update = getattr(v, "default_update", None)
        if isinstance(v, SharedVariable) and update is not None and id(v) not in excluded:
            found.append((v, update))
            excluded.add(id(v))
    return _as_update_pairs(found)
