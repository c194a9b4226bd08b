"""A graph compiled into a native module, and what calling that module needs.

`CompiledModule` lowers a rewritten graph, renders its C and builds the module (or
finds it in the disk cache), then keeps what a call needs: the module and its entry
points, the call plans per argument shape, the constants passed to every call and the
`Signature` (argument specs, shared storages, update write-back, result packing).
`Function` calls through it; `Function.loop` and `export_c` use the same surface.

The entry point is called as::

    entry(P, err, *arrays, *outputs, *updates, *constants)

with `P` a `CallPlan`'s cffi array, `err` a `char[ERRBUF_SIZE]` for the message of a
failing kernel, `arrays` the arguments then the shared storages, `outputs` the
outputs' buffers, `updates` a buffer per update (NULL for those written into their
storage: all of them when every `CallPlan.in_place` holds, and then only the outputs
come back), and `constants` (`CompiledModule.constants`). It returns 0, or an error
code that `CompiledModule.error` turns into an exception.
"""

from __future__ import annotations

import copy
import functools
import math
import time
from collections.abc import Callable
from threading import get_ident
from typing import Any, NamedTuple

import numpy as np

from cgraph import backend
from cgraph._version import __version__
from cgraph.backend.progress import compile_progress
from cgraph.codegen import ShapeError, cdef, lower, render
from cgraph.codegen import make_plan as plan_shapes
from cgraph.codegen.kernels import uses_blas
from cgraph.codegen.lower import Lowered, Program
from cgraph.codegen.plan import Buffer, Plan, allocation_error
from cgraph.codegen.render import keep_bytecode_in
from cgraph.compile import errors, fastcall
from cgraph.compile.profiling import ProfileStats
from cgraph.compile.signature import Signature
from cgraph.compile.toolchain import (
    ERRBUF_SIZE,
    build_options,
    installed_template,
    kernel_headers,
    program_key,
)
from cgraph.compile.warm import GraphFace, Prepared, Record
from cgraph.configdefaults import Config
from cgraph.graph.fg import FunctionGraph
from cgraph.graph.gcpause import gc_paused
from cgraph.graph.labels import node_labels

__all__ = ["ERRBUF_SIZE", "VERSION", "CallPlan", "CompiledModule"]

VERSION = __version__
#: The most call plans kept per function (then the cache starts afresh).
MAX_PLANS = 256


class CallPlan(NamedTuple):
    """The plan of one call shape, as the entry point reads it."""

    #: cffi `int64_t[]` over `params`: the entry's first argument.
    P: Any
    #: Shapes of the outputs, then of the updates' new values.
    out_shapes: tuple[tuple[int, ...], ...]
    #: The int64 plan array itself.
    params: np.ndarray
    #: Per update: written straight into its shared storage (its shape is unchanged).
    in_place: tuple[bool, ...]


class CompiledModule:
    """A function's graph as a native module (mode "C").

    Attributes
    ----------
    fgraph : FunctionGraph
        The compiled graph: the function's inputs then the shared storages in, its
        outputs then the updates' new values out. A warm start rebuilds it (and
        `lowered`) from its record on first use.
    signature : Signature
        Argument specs, shared variables, updates and result dtypes.
    lowered : Lowered
        The lowered program (`lowered.program`: steps, updates, entry name).
    module : backend module
        The loaded cffi module (`module.ffi`, `module.lib`, `module.key`).
    ffi : cffi.FFI
        `module.ffi`; `from_buffer` is its `from_buffer`.
    entry : callable
        The entry point (see the module's docstring).
    constants : list
        cffi buffers of the array constants, passed after the updates.
    build_options : backend.BuildOptions
        How the module was compiled.
    prepared : Prepared
        What calling the module needs from the lowered program, and its name in the
        module index (what a warm-start record keeps, `cgraph.compile.warm`).
    record : Record or None
        The graph's warm-start record (set by `function` in mode "C"): the plans of
        new call shapes are kept there for new processes (a profiled function's are
        not).
    version : str
        cgraph's version the C was rendered by.
    c_path : str
        Where the module's C lives in the cache.
    profile : ProfileStats or None
        Kernel timings, when built with profiling.
    plans : dict
        Call key -> `CallPlan`, for the call shapes planned so far (a call key is the
        arrays' shapes, then the values of `value_args` when they are scalars).
    c_plans : dict
        The same plans for the C call path, keyed by `fastcall.plan_key` of the shapes.
    value_args : tuple of int
        Inputs whose values some shape depends on (an ifelse condition, a size).
    replan_each_call : bool
        A value argument is an array: every call makes its plan afresh.
    label : str
        Names the function in error messages.
    config : Config
        The settings it was built with.
    """

    def __init__(self, fgraph: FunctionGraph | GraphFace, signature: Signature, cfg: Config,
                 profile: bool = False, label: str = "compiled function",
                 prepared: Prepared | None = None,
                 meanwhile: Callable[[Prepared], None] | None = None):
        # A warm start gives the face of a graph it rebuilds on first use (`_rebuild`).
        self._fgraph = fgraph if isinstance(fgraph, FunctionGraph) else None
        self._inputs = list(fgraph.inputs)
        self._lowered: Lowered | None = None
        self.record: Record | None = None
        self.signature = signature
        self.config = copy.copy(cfg)
        self.label = label
        self.profile: ProfileStats | None = None
        self.plans: dict[tuple, CallPlan] = {}
        self.c_plans: dict[bytes, tuple] = {}
        self._profiled = profile
        self._source: str | None = None
        # One error buffer per thread: cffi releases the GIL during the call, so
        # concurrent failing calls must not write into the same message buffer.
        self._errbufs: dict[int, Any] = {}
        self._specialized: dict[bytes, Any] = {}  # plan bytes -> module (`specialized`)
        self._build(cfg, prepared, meanwhile)

    # ----------------------------------------------------------------- building

    def _build(self, cfg: Config, prepared: Prepared | None = None,
               meanwhile: Callable[[Prepared], None] | None = None) -> None:
        """Lower the graph (or take `prepared`'s front, from a warm-start record, and
        lower nothing), then load its module from the index or render and compile it
        (calling `meanwhile` with its `Prepared` while the compiler runs, if it runs)."""
        started = time.perf_counter()
        if cfg.c_call:  # the C call path compiles (once per machine) alongside the module
            fastcall.start(cfg.cc, cfg.cache_dir or None, cfg.sanitize)
        # Before lowering, which renders the C of inner programs (scan).
        keep_bytecode_in(backend.private_subdir("jinja", cfg.cache_dir or None),
                         installed_template)
        if prepared is None:
            self._lowered = lower(self._fgraph, self._update_of())
        else:
            self._lowered = prepared.lowered
            self.prepared = prepared  # whose `load` rebuilds the graph (`lowered`)
        lowered = time.perf_counter()
        blas = (prepared.blas if prepared is not None
                else uses_blas(self._lowered.program.steps))
        self.build_options = build_options(cfg)
        if blas:  # only modules that call BLAS link it
            self.build_options = backend.with_blas(self.build_options)
        self.version = VERSION
        # A warm start finds the module by the program's name and skips rendering.
        options = repr(self.build_options)
        if prepared is not None and prepared.options == options:
            self.prepared = prepared
        else:
            program = self.lowered.program
            index_key = program_key(program, VERSION, str(self._profiled),
                                    cdef(program, self._profiled), options)
            self.prepared = Prepared.of(self.lowered, index_key, options, blas)
        index_key = self.prepared.index_key
        compiles = backend.stats.compiles
        cache_dir = cfg.cache_dir or None
        module = backend.load_indexed(index_key, self.build_options, cache_dir)
        looked_up = rendered = time.perf_counter()
        if module is None:
            program = self.lowered.program
            self._source = render(program, VERSION, profile=self._profiled)
            rendered = time.perf_counter()
            what = (f"{len(self.lowered.kernels)} kernels "
                    f"({len(self._source) // 1024} kB of C)")
            try:
                with compile_progress(what, cfg.compile_progress):
                    module = backend.load_module(
                        self._source, cdef(program, self._profiled), self.build_options,
                        depends=kernel_headers(), root=cache_dir, key_text=index_key,
                        meanwhile=(None if meanwhile is None
                                   else functools.partial(meanwhile, self.prepared)))
            except backend.CompileError as err:
                raise errors.point_at_kernels(err, program) from None
            backend.record_index(index_key, module, self.build_options, cache_dir)
        loaded = time.perf_counter()
        self.module = module
        self.c_path = str(module.c_path)
        if self._profiled:
            built = loaded - rendered if backend.stats.compiles > compiles else 0.0
            self._start_profile({"lower": lowered - started, "render": rendered - looked_up,
                                 "compile": built,
                                 "load": looked_up - lowered + loaded - rendered - built})
        self.ffi = module.ffi
        self.from_buffer = module.ffi.from_buffer
        self.entry = getattr(module.lib, self.prepared.entry)
        self.constants = [self.from_buffer(c) for c in self.prepared.arg_constants]
        # Shapes that depend on argument values: scalars join the plan key; arrays
        # (e.g. a boolean mask) make every call plan afresh.
        self.value_args: tuple[int, ...] = self.prepared.value_args
        self.replan_each_call = any(self._inputs[i].type.ndim > 0 for i in self.value_args)
        if not self._profiled and not self.value_args:
            for shapes, P, out_shapes, in_place in self.prepared.plans:
                self._keep(shapes, shapes, P, out_shapes, in_place)

    @property
    def fgraph(self) -> FunctionGraph:
        """The compiled graph (see the class's attributes)."""
        if self._fgraph is None:
            self._rebuild()
        return self._fgraph

    @property
    def lowered(self) -> Lowered:
        """The lowered program (`lowered.program`: steps, updates, entry name)."""
        if self._lowered is None:
            self._rebuild()
        return self._lowered

    def _rebuild(self) -> None:
        """A warm start's graph and program, rebuilt from its record on first use (or,
        when the record's graph is gone, the graph as built rewritten and lowered again,
        which must name the same program, and recorded again)."""
        prepared = self.prepared
        rebuilt = prepared.load()
        if rebuilt is None:
            fgraph = prepared.remake()
            lowered = lower(fgraph, self._update_of())
            program = lowered.program
            if program_key(program, VERSION, str(self._profiled), cdef(program, self._profiled),
                           prepared.options) != prepared.index_key:
                raise RuntimeError(f"{self.label}: its graph, rewritten again, is not the "
                                   "program its module was built from; clear the cache "
                                   "(python -m cgraph cache clear)")
            prepared.lowered = lowered
            if self.record is not None:
                self.record.store_graph(fgraph, prepared)
            rebuilt = fgraph, lowered
        self._fgraph, self._lowered = rebuilt
        self._lowered.arg_constants = prepared.arg_constants  # one copy of each
        prepared.lowered = self._lowered

    def _update_of(self) -> dict[int, int]:
        """The lowering's map: output position -> input position it updates."""
        sig = self.signature
        return {sig.n_outputs + k: len(sig.args) + index
                for k, index in enumerate(sig.update_index)}

    def specialized(self, P: Any) -> Any:
        """The module specialized to the plan array `P` (a cffi int64_t array): every
        kernel inlined, the plan's shapes and strides constants (`render(...,
        fixed_plan=)`); its `<entry>_loop` runs only loops of that plan. Compiled once
        per machine and plan, then found in the disk cache."""
        program = self.lowered.program
        values = np.frombuffer(self.ffi.buffer(P), dtype=np.int64)
        found = self._specialized.get(values.tobytes())
        if found is not None:
            return found
        cfg, cache_dir = self.config, self.config.cache_dir or None
        declarations = cdef(program)
        key = program_key(program, VERSION, "fixed-plan", values.tobytes().hex(),
                          declarations, repr(self.build_options))
        module = backend.load_indexed(key, self.build_options, cache_dir)
        if module is None:
            source = render(program, VERSION, fixed_plan=values.tolist())
            what = f"a loop step specialized to its shapes ({len(self.lowered.kernels)} kernels)"
            try:
                with compile_progress(what, cfg.compile_progress):
                    module = backend.load_module(source, declarations, self.build_options,
                                                 depends=kernel_headers(), root=cache_dir,
                                                 key_text=key)
            except backend.CompileError as err:
                raise errors.point_at_kernels(err, program) from None
            backend.record_index(key, module, self.build_options, cache_dir)
        self._specialized[values.tobytes()] = module
        return module

    def _start_profile(self, times: dict[str, float]) -> None:
        program = self.lowered.program
        counters = self.module.ffi.buffer(self.entry_point("_profile")(),
                                          16 * max(len(program.steps), 1))
        self.profile = ProfileStats(
            [s.kernel.comment for s in program.steps],
            np.frombuffer(counters, dtype=np.float64), times,
            nodes=[n for n in self.lowered.nodes if id(n) in self.lowered.kernels])

    @property
    def program(self) -> Program:
        """The lowered program."""
        return self.lowered.program

    @property
    def c_source(self) -> str:
        """The module's C, rendered from this graph (when the module came from the cache,
        rendered on first use: the cached file may come from the same graph made on
        other lines, which are not in the cache key)."""
        if self._source is None:
            self._source = render(self.lowered.program, VERSION, profile=self._profiled)
        return self._source

    @property
    def source_rendered(self) -> bool:
        """Whether the C has been rendered in this process (a warm start skips it)."""
        return self._source is not None

    def entry_point(self, suffix: str = "") -> Any:
        """The module's function `<entry><suffix>` ("_argv": the C call path's entry,
        "_loop": `Function.loop`'s, "_profile": the profile counters)."""
        return getattr(self.module.lib, self.prepared.entry + suffix)

    def entry_address(self, suffix: str = "") -> int:
        """The address of the module's function `<entry><suffix>`."""
        address = self.ffi.addressof(self.module.lib, self.prepared.entry + suffix)
        return int(self.ffi.cast("uintptr_t", address))

    # ----------------------------------------------------------------- plans

    def plan(self, key: tuple, arrays: list[np.ndarray]) -> CallPlan:
        """The plan of a call with `arrays` (the arguments then the shared storages),
        whose call key is `key`: from `plans`, else made by `make_plan`."""
        found = None if self.replan_each_call else self.plans.get(key)
        return found if found is not None else self.make_plan(key, arrays)

    @gc_paused  # a plan of a large graph: see cgraph/graph/gcpause.py
    def make_plan(self, key: tuple, arrays: list[np.ndarray]) -> CallPlan:
        """Plan a call with `arrays` (the arguments then the shared storages) and keep
        the plan in `plans` under `key` (unless `replan_each_call`).

        Raises ValueError for a shape the input's static shape forbids, ShapeError
        (naming the node) for shapes the graph cannot take, and MemoryError when the
        workspace or an output cannot be allocated."""
        shapes = key[:len(arrays)]
        for var, shape in zip(self._inputs, shapes):
            for axis, (want, got) in enumerate(zip(var.type.shape, shape)):
                if want is not None and want != got:
                    raise ValueError(f"input {var!r} has static shape {var.type}, but got "
                                     f"shape {shape} (axis {axis})")
        try:
            plan = plan_shapes(self.lowered, shapes, arrays if self.value_args else None)
        except ShapeError as err:
            raise errors.explain_shape_error(err, self.fgraph,
                                             self.config.exception_verbosity) from None
        except MemoryError as err:
            raise MemoryError(f"{self.label}: {err}") from None
        self._check_allocation(plan, shapes)
        if self.profile is not None:
            self.profile.set_plan(plan)
        P = plan.params
        if self.replan_each_call:
            return CallPlan(self.from_buffer("int64_t[]", P), plan.out_shapes, P, plan.inplace)
        if self.record is not None and not self.value_args and not self._profiled:
            self.record.add_plan(shapes, P, plan.out_shapes, plan.inplace)
        return self._keep(key, shapes, P, plan.out_shapes, plan.inplace)

    def _keep(self, key: tuple, shapes: tuple, P: np.ndarray, out_shapes: tuple,
              in_place: tuple) -> CallPlan:
        """Keep the plan P of a call with arrays of `shapes` in `plans` under `key` (and
        in `c_plans`, unless shapes depend on values)."""
        entry = CallPlan(self.from_buffer("int64_t[]", P), out_shapes, P, in_place)
        if len(self.plans) > MAX_PLANS:
            self.plans.clear()
            self.c_plans.clear()
        self.plans[key] = entry
        if not self.value_args:
            self.c_plans[fastcall.plan_key(shapes)] = (  # P's address, out dims, all in place
                int(self.ffi.cast("uintptr_t", entry.P)),
                fastcall.plan_key(out_shapes[:self.signature.n_outputs]),
                all(in_place), entry)
        return entry

    def _check_allocation(self, plan: Plan, shapes: tuple) -> None:
        """Allocate once (and free) the workspace and the outputs a call with `plan`
        makes: a MemoryError naming the array, its node, the input shapes and the size
        when one cannot be had, before any kernel runs and before the plan is kept."""
        held = []
        wanted = [("the workspace", plan.workspace, plan.largest)]
        sig = self.signature
        n_out = sig.n_outputs
        for k, (v, shape, dtype) in enumerate(zip(self.fgraph.outputs, plan.out_shapes,
                                                  sig.out_dtypes)):
            if k >= n_out and plan.inplace[k - n_out]:
                continue  # written into the shared variable's storage
            what = (f"output {k}" if k < n_out
                    else f"the new value of shared variable {sig.updates[k - n_out]!r}")
            nbytes = math.prod(shape) * dtype.itemsize
            wanted.append((what, nbytes, Buffer(v.owner, shape, dtype.name, nbytes)))
        for what, nbytes, buffer in wanted:
            try:
                held.append(np.empty(nbytes, np.uint8))
            except MemoryError:
                labels = node_labels(self.fgraph.outputs)
                err = allocation_error(what, nbytes, shapes, buffer, labels)
                raise MemoryError(f"{self.label}: {err}") from None

    # ----------------------------------------------------------------- calling

    def python_call(self, trust_input: bool = False) -> Callable[[tuple], Any]:
        """The call path of mode "C" in Python: `call(args)` checks the arguments
        (converting them, unless `trust_input`), finds the plan, allocates the outputs,
        makes one C call, writes the updates back and returns the result."""
        sig = self.signature
        check = sig.check_exact if trust_input else sig.check
        shared, write_back, pack = sig.shared, sig.write_back, sig.pack
        n_out, all_dtypes = sig.n_outputs, sig.out_dtypes
        out_dtypes = all_dtypes[:n_out]
        plans, make_plan, entry, fb = self.plans, self.make_plan, self.entry, self.from_buffer
        constants, errbufs, new_errbuf = self.constants, self._errbufs, self.ffi.new
        no_updates = (self.ffi.NULL,) * len(sig.updates)
        replan = self.replan_each_call
        value_args = () if replan else self.value_args
        errbuf_type, empty, fail = f"char[{ERRBUF_SIZE}]", np.empty, self._raise

        def call(args: tuple) -> Any:
            arrays = check(args)
            shapes = []
            for a in arrays:
                shapes.append(a.shape)
            for s in shared:  # sig.storages(), inlined on every call's path
                value = s._value
                arrays.append(value)
                shapes.append(value.shape)
            key = tuple(shapes)
            if value_args:  # shapes depend on these (scalar) arguments' values
                key += tuple([arrays[i].item() for i in value_args])
            plan = None if replan else plans.get(key)
            if plan is None:
                plan = make_plan(key, arrays)
            P, out_shapes, _, in_place = plan
            errbuf = errbufs.get(get_ident())
            if errbuf is None:
                errbuf = errbufs[get_ident()] = new_errbuf(errbuf_type)
            if all(in_place):  # the updates go straight into the shared storage
                outs = list(map(empty, out_shapes[:n_out], out_dtypes))
                rc = entry(P, errbuf, *map(fb, arrays), *map(fb, outs), *no_updates,
                           *constants)
                if rc:
                    fail(rc, errbuf, arrays)
            else:  # an update changes a shape: it comes back as a new array
                outs = list(map(empty, out_shapes, all_dtypes))
                rc = entry(P, errbuf, *map(fb, arrays), *map(fb, outs), *constants)
                if rc:
                    fail(rc, errbuf, arrays)
                write_back(outs[n_out:], in_place)
            return pack(outs)

        return call

    def c_call(self, fallback: Callable[[tuple], Any]) -> Callable[[tuple], Any] | None:
        """The C call path (`fastcall`), handing what it does not handle to `fallback`;
        None when it cannot serve this module (shapes depending on argument values, the
        C path off or unavailable, a function too big for its tables)."""
        cfg = self.config
        if self.value_args or not cfg.c_call:
            return None
        factory = fastcall.factory(cfg.cc, cfg.cache_dir or None, cfg.sanitize)
        if factory is None:
            return None
        return fastcall.make_caller(factory, self.entry_address("_argv"), self.signature,
                                    self.prepared.arg_constants, self.c_plans, fallback,
                                    self.on_c_error)

    def on_c_error(self, rc: int, message: bytes, args: list) -> None:
        """Raise the error of a failed call of the C path (its arguments as given)."""
        arrays = [spec.convert(a) if type(a) is not np.ndarray else a
                  for spec, a in zip(self.signature.args, args)]
        arrays += self.signature.storages()
        raise self.error(rc, message.decode(errors="replace"), arrays)

    def _raise(self, rc: int, errbuf: Any, arrays: list) -> None:
        raise self.error(rc, self.ffi.string(errbuf).decode(errors="replace"), arrays)

    def error(self, rc: int, message: str, arrays: list | None, context: str = ""
              ) -> Exception:
        """The exception for the entry's error code `rc` with the kernel's `message`:
        it names the failing node and, given the call's `arrays` (the arguments then
        the shared storages), its input shapes. `context` follows "failed"."""
        return errors.c_runtime_error(self, rc, message, arrays, context)
