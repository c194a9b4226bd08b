"""Rendering: a Program becomes one C translation unit through the Jinja templates."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import fields, replace
from importlib.resources import files
from pathlib import Path

import jinja2

from cgraph.codegen.lower import Decl, Program, Step
from cgraph.kernel import Kernel, Operand, Statement


@functools.cache
def environment() -> jinja2.Environment:
    """The one Jinja environment, loading from `templates_dir()`.

    It keeps no compiled templates on disk until :func:`keep_bytecode_in` names a
    folder for them.
    """
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )


class _BytecodeCache(jinja2.FileSystemBytecodeCache):
    """Jinja's file cache, except that a failed write (a full disk) is not an error:
    the bytecode only saves the next process the templates' compilation; and a template
    it does not hold is looked for with `installed(name)`, the file compiled at install
    time, which Jinja uses only if it was compiled from the same source."""

    def __init__(self, directory: str,
                 installed: Callable[[str], Path | None] | None = None) -> None:
        super().__init__(directory)
        self.installed = installed

    def get_bucket(self, environment: jinja2.Environment, name: str, filename: str | None,
                   source: str) -> jinja2.bccache.Bucket:
        bucket = super().get_bucket(environment, name, filename, source)
        path = self.installed(name) if bucket.code is None and self.installed else None
        if path is not None:
            try:
                with open(path, "rb") as f:
                    bucket.load_bytecode(f)  # checks Python's version and the source's
            except Exception:  # a damaged file: the template is compiled
                bucket.reset()
        return bucket

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            super().dump_bytecode(bucket)
        except OSError:
            pass


def keep_bytecode_in(folder: str | Path | None,
                     installed: Callable[[str], Path | None] | None = None) -> None:
    """Keep the templates compiled to Python (like .pyc files) in `folder`, keyed by
    each template's source so that an edited template is compiled again; None keeps
    none. Loading bytecode runs it: `folder` must be private to the user (cgraph keeps
    it inside its cache, created 0700). `installed(name)`: the file of the template
    compiled at install time, or None, read when `folder` has none."""
    env = environment()
    current = env.bytecode_cache
    if folder is None:
        env.bytecode_cache = None
    elif not (isinstance(current, _BytecodeCache) and current.directory == str(folder)
              and current.installed is installed):
        env.bytecode_cache = _BytecodeCache(str(folder), installed)


def _resource_dir(name: str) -> Path:
    """cgraph's `templates` or `csrc` folder. A source tree's own folders come first:
    the repository's top-level folder next to the `cgraph` package, when that package
    is a checkout's (its root holds templates/ and csrc/). Such a tree imported from
    its root (PYTHONPATH, a second worktree) shadows an installed cgraph, and an
    editable install's `cgraph.<name>` names another tree's folder: the tree must
    render its own templates. Else the package `cgraph.<name>` of an install (wheel,
    `pip install .`)."""
    tree = Path(__file__).resolve().parents[2]
    if (tree / "templates" / "program.c.j2").is_file() and (tree / "csrc" / "cgraph.h").is_file():
        return tree / name
    try:
        return Path(str(files(f"cgraph.{name}")))
    except ModuleNotFoundError:
        raise ModuleNotFoundError(
            f"cgraph's {name} folder is missing: neither the package cgraph.{name} nor "
            f"{tree / name} exists (reinstall cgraph: pip install .)",
            name=f"cgraph.{name}") from None


@functools.cache
def templates_dir() -> Path:
    """The directory holding cgraph's Jinja templates of C."""
    return _resource_dir("templates")


@functools.cache
def csrc_dir() -> Path:
    """The directory holding cgraph's hand-written C headers."""
    return _resource_dir("csrc")


@functools.cache
def header_paths() -> tuple[str, ...]:
    """The headers every module includes (their contents go into the cache key)."""
    return tuple(sorted(str(p) for p in csrc_dir().glob("*.h")))


@functools.cache
def sources_digest() -> str:
    """A digest of every template and header: what rendering depends on besides the
    program (computed once per process)."""
    h = hashlib.sha256()
    for folder in (templates_dir(), csrc_dir()):
        for path in sorted(folder.glob("*")):
            if path.suffix in (".j2", ".h"):
                h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def program_key(program: Program, *extra: str) -> str:
    """A name for the C that `render(program, ...)` would give, without rendering it:
    the program's full description, the templates and headers, and `extra` settings."""
    text = "\0".join([repr(program), sources_digest(), f"table>{TABLE_STEPS}", *extra])
    return hashlib.sha256(text.encode()).hexdigest()


#: The name every kernel is rendered under to compare its code with the others'.
_SHAPE_NAME = "cg_kernel_"


def _code_shape(kernel: Kernel) -> Kernel:
    """`kernel` with its name, comment and notes blanked: what its code is made of."""
    statements = tuple(replace(st, note="", where="") for st in kernel.statements)
    return replace(kernel, name=_SHAPE_NAME, text="", where="", statements=statements)


#: The fields `_code_key` leaves out, by class: what the templates write into comments
#: or names only (an operand's variable name is not read at all).
_UNREAD = {Kernel: ("name", "text", "where"), Statement: ("note", "where"), Operand: ("var",)}


@functools.cache
def _read_fields(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls) if f.name not in _UNREAD[cls])


def _plain(value: object) -> object:
    """`value` as nested tuples of the fields `_UNREAD` keeps (for a kernel, operand or
    statement), else itself."""
    cls = type(value)
    if cls in _UNREAD:
        return (cls.__name__, *(_plain(getattr(value, name)) for name in _read_fields(cls)))
    if type(value) is tuple:
        return tuple(_plain(v) for v in value)
    return value


def _code_key(kernel: Kernel) -> str:
    """What `kernel`s code is made of, as text: every field but those the templates
    write only into comments and names; equal for `_code_shape` of equal code. Made
    without copying the dataclasses (`replace` took 60% of rendering a deep chain)."""
    return repr(_plain(kernel))


def kernel_functions(env: jinja2.Environment, steps: Sequence[Step]
                     ) -> tuple[list[str], list[str]]:
    """The C of each distinct kernel, and for each step the function it calls.

    Each template gets the kernel as `k` and the offsets of its plan fields as `p`
    (`p[{{ p.size }}]`). Two steps whose kernels render to the same code (same
    template, dtypes, ranks and
    static parameters: all a node's own data arrives through its pointers and its
    plan slots) share one `static` function, named after the first and rendered
    with its comment, to which a line naming the other nodes is added. So a graph of
    30 identical layers gives gcc the code of one layer to compile.
    """
    first: dict[str, int] = {}
    seen: dict[str, int] = {}  # the repr of a code shape -> its function, known
    owners: list[Kernel] = []
    sharing: list[list[Kernel]] = []
    callees: list[str] = []
    for step in steps:
        kernel = step.kernel
        # Equal shapes render equal code (the templates never read the operands'
        # variable names), so each distinct shape is rendered once: 2,400 renders of a
        # deep model's steps took 1.6 s.
        key = _code_key(kernel)
        index = seen.get(key, -1)
        if index < 0:
            template = env.get_template(f"{kernel.family}.c.j2")
            code = template.render(k=_code_shape(kernel), p=kernel.layout.slots())
            index = seen[key] = first.setdefault(code, len(owners))
        if index == len(owners):
            owners.append(kernel)
            sharing.append([])
        else:
            sharing[index].append(kernel)
        callees.append(owners[index].name)
    texts = []
    for kernel, others in zip(owners, sharing):
        text = env.get_template(f"{kernel.family}.c.j2").render(
            k=kernel, p=kernel.layout.slots()).strip()
        if others:
            names = ", ".join(k.name for k in others)
            text = f"/* the same code computes {names} */\n{text}"
        texts.append(text)
    return texts, callees


def disjoint_sizes(program: Program) -> dict[int, int]:
    """For each in-place update, the P slot where the byte sizes of arguments 0, 1, ...
    begin: the body checks the update's storage against all of them in one loop
    (`cg_disjoint_args`), which needs them in consecutive slots."""
    found = {}
    for u in program.updates:
        if not u.disjoint:
            continue
        base = u.disjoint[0][1] - u.disjoint[0][0]
        args = [a for a, _ in u.disjoint]
        if (any(slot != base + a for a, slot in u.disjoint)
                or sorted(args + [u.shared_arg]) != list(range(len(args) + 1))):
            raise AssertionError(f"update of a{u.shared_arg}: argument sizes not in "
                                 f"consecutive plan slots: {u.disjoint}")
        found[u.shared_arg] = base
    return found


#: A body of more steps than this is a table run by a loop (csrc/cg_table.h) rather
#: than straight-line calls: gcc spends about 1.5 ms on each call site, so a 2,400-step
#: body took seconds, while a table costs it next to nothing. Shorter bodies keep the
#: direct calls (no indirect call or operand load per kernel: the call path of small
#: functions is where that shows).
TABLE_STEPS = 64

#: A module specialized to a plan whose workspace takes at most this many bytes keeps
#: it in a local array of its step (a stack array no argument can alias, which gcc may
#: hold in registers) instead of the loop's heap block.
LOCAL_WORKSPACE = 16384

#: cg_table.h's value kinds, by Decl.kind.
_VALUE_KINDS = {"arg": "CG_V_ARG", "buffer": "CG_V_BUFFER", "update": "CG_V_UPDATE",
                "view": "CG_V_VIEW", "const": "CG_V_CONST", "plan": "CG_V_PLAN"}


def _needed(decls: Sequence[Decl], names: set[str]) -> list[Decl]:
    """The declarations of `names` and of the views' bases they read, in order."""
    by_name = {d.name: d for d in decls}
    todo, seen = [n for n in names if n in by_name], set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        if by_name[name].kind == "view" and by_name[name].base in by_name:
            todo.append(by_name[name].base)
    return [d for d in decls if d.name in seen]


def _table(program: Program, callees: list[str]) -> dict:
    """The rows of a long body's table (see TABLE_STEPS and csrc/cg_table.h), as the
    lines of C the template writes: made here rather than by a loop of the template,
    whose attribute lookups per field took 40% of rendering the residual chain's 50
    layers (658 rows)."""
    row = {d.name: i for i, d in enumerate(program.decls)}
    values = []
    for i, d in enumerate(program.decls):
        size = f"(int32_t)sizeof({d.ctype})" if d.kind == "view" else 0
        data = f"(const void *){d.name}" if d.kind == "const" else "NULL"
        values.append(f"    {{{_VALUE_KINDS[d.kind]}, {d.arg}, {d.slot}, {row.get(d.base, -1)}, "
                      f"{size}, {data}}},  /* {i}: {d.comment} */")
    n_ops = 0
    op_rows, steps, thunks = [], [], {}
    for step, callee in zip(program.steps, callees):
        kernel = step.kernel
        operands = [row[o.var] for o in (*kernel.outputs, *kernel.inputs)]
        thunks.setdefault(callee, {"name": callee, "n": len(operands),
                                   "scratch": bool(kernel.scratch)})
        steps.append(f"    {{{callee}_t, {step.slot}, {step.guard_slot}, {n_ops}, "
                     f"\"{kernel.name}\"}},  /* {kernel.comment} */")
        n_ops += len(operands)
        op_rows.append("    " + ", ".join(map(str, operands)) + ",")
    ip_args = sorted({u.shared_arg for u in program.updates if u.inplace_slot >= 0})
    return {"value_rows": values, "n_ops": n_ops, "op_rows": op_rows, "steps": steps,
            "thunks": list(thunks.values()), "ip_args": ip_args}


def _body(program: Program, callees: list[str]) -> dict:
    """The template's view of the body: straight-line calls when short, else a table
    (declaring directly only what the updates read)."""
    if len(program.steps) <= TABLE_STEPS:
        return {"table": None, "steps": list(enumerate(program.steps)),
                "body_decls": [d for d in program.decls if d.kind != "const"]}
    local = [d for d in program.decls if d.kind != "const"]
    return {"table": _table(program, callees), "steps": [],
            "body_decls": _needed(local, {u.src for u in program.updates})}


#: A table program's C is compiled as this many units at once, one compiler process
#: each (the build runs `cc -DCG_UNIT=u` on the same file): gcc uses one core per
#: process, and this machine kind has two. Fixed rather than read from the machine,
#: so that the same graph gives the same C everywhere (the C is the cache key).
UNITS = 2

#: Estimated gcc time (-O3, microseconds) of a kernel: a fixed part, and a part per
#: character of the code it compiles (`_kernel_cost`); of the table: a fixed part (the
#: body, the entry points) and a part per row (a value's or a step's). Fitted with gcc
#: 12 on the residual chain's kernels (14-32 ms each) and tables (about 35 ms for the
#: 50-layer chain's 660 rows, 80 ms for the 400-layer chain's 5,200).
KERNEL_US, CHAR_US, TABLE_US, ROW_US = 8000, 12, 25000, 10


def _kernel_cost(text: str) -> int:
    """`text`'s estimated compile time: its characters outside comments, the OpenMP
    branches (`#if CG_OMP`, gone unless built with -fopenmp) and the helper blocks
    (`#ifndef CG_DEFINED_...`: definitions that other kernels' texts repeat and that gcc
    mostly drops unused)."""
    skipped, stack, chars = 0, [], 0
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("#if"):
            stack.append(line == "#if CG_OMP" or line.startswith("#ifndef CG_DEFINED_"))
            skipped += stack[-1]
        elif line.startswith("#endif") and stack:
            skipped -= stack.pop()
        elif not skipped and not line.startswith("/*"):
            chars += len(line)
    return KERNEL_US + CHAR_US * chars


def _units(kernels: Sequence[str], table: dict | None) -> dict | None:
    """Which unit compiles each kernel (`UNITS` units, or None: one unit, for a
    straight-line body). The last unit holds the table, the body and the entry points;
    the kernels go, the costliest first, to the unit with the least to compile so far."""
    if table is None or len(kernels) < 2:
        return None
    load = [0] * UNITS
    load[-1] = TABLE_US + ROW_US * (len(table["value_rows"]) + len(table["steps"]))
    costs = [_kernel_cost(text) for text in kernels]
    of = [0] * len(kernels)
    for i in sorted(range(len(kernels)), key=lambda i: -costs[i]):
        unit = min(range(UNITS), key=lambda u: load[u])
        of[i] = unit + 1
        load[unit] += costs[i]
    return {"count": UNITS, "table": UNITS, "of": of}


def _render_program(template: str, program: Program, split: bool = False,
                    **extra: object) -> str:
    """`template`'s C of `program`; with `split`, a table program's C is made of
    units (`_units`)."""
    env = environment()
    kernels, callees = kernel_functions(env, program.steps)
    body = _body(program, callees)
    units = _units(kernels, body["table"]) if split else None
    if units is not None:  # each thunk is compiled with its kernel
        unit_of = {name: unit for name, unit in zip(dict.fromkeys(callees), units["of"])}
        for thunk in body["table"]["thunks"]:
            thunk["unit"] = unit_of[thunk["name"]]
    return env.get_template(template).render(program=program, kernels=kernels,
                                             callees=callees, units=units,
                                             disjoint_sizes=disjoint_sizes(program),
                                             **body, **extra)


def render(program: Program, version: str, profile: bool = False,
           fixed_plan: Sequence[int] | None = None) -> str:
    """Return the C source of `program`; with `profile`, each kernel call is timed
    into a static counter array (read through `<entry>_profile`). With `fixed_plan`
    (the plan array of one call shape), a module specialized to it: every kernel
    inlined into a body that reads the plan as constants, run only by its loop entry
    (a short body only: a table's steps are called through pointers)."""
    if fixed_plan is not None and len(program.steps) > TABLE_STEPS:
        raise ValueError(f"a program of {len(program.steps)} steps (over {TABLE_STEPS}) "
                         "is not specialized to a plan")
    fixed = None if fixed_plan is None else [int(v) for v in fixed_plan]
    local = fixed[0] if fixed and 0 < fixed[0] <= LOCAL_WORKSPACE else 0
    return _render_program("module.c.j2", program, split=fixed is None, version=version,
                           profile=profile, fixed_plan=fixed, local_workspace=local)


def render_runtime(products: Sequence[dict], loop: bool, version: str) -> str:
    """The C of a part of cgraph's runtime (templates/runtime.c.j2): what modules share,
    compiled once per cache and build options, and linked into the modules built with
    it that name it (`backend.Runtime`). `products` are gemm contexts of dtypes whose
    products call BLAS, each with its C type as ``ctype``; `loop`: Function.loop's
    runner."""
    return environment().get_template("runtime.c.j2").render(products=products, loop=loop,
                                                             version=version)


class InnerC(str):
    """The C of an inner program in a kernel's context (a scan's step, a step block).
    Its repr, which the module's cache key reads, is the program's: the C's comments
    name the user's lines, and a function whose code only moved must find its module
    (the program's repr leaves the lines out, as the outer program's does)."""

    key = ""

    def __repr__(self) -> str:
        return f"InnerC({self.key})"


def render_program(program: Program) -> InnerC:
    """The C of an inner program (a scan's step, a step block): its constants, its
    kernels and a `static` entry point, to be placed inside another module."""
    text = InnerC(_render_program("program.c.j2", program, storage="static inline ",
                                  profile=False, fixed_plan=None))
    text.key = repr(program)
    return text


def cdef(program: Program, profile: bool = False) -> str:
    """The cffi declaration of the program's entry points."""
    args = "".join(f", void *a{i}" for i in range(program.n_args))
    text = (f"int {program.entry}(const int64_t *P, char *err{args});\n"
            f"int {program.entry}_argv(const int64_t *P, char *err, char *ws, void **A);\n"
            f"int {program.entry}_loop(const int64_t *P_full, const int64_t *P_last, "
            "char *err, const int64_t *L, void **X, int64_t *state);")
    if profile:
        text += f"\ndouble *{program.entry}_profile(void);"
    return text
