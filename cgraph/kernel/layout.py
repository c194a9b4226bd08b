"""Memory layouts and the named layout of a kernel's plan slots (`ParamLayout`).

A kernel reads its per-call integers (loop bounds, strides, offsets) from a block of
the plan array `P`. `ParamLayout` declares that block once, as named fields: it
sizes the block (`nparams`), builds the values from named parts and checks every
length (`build`), and gives the templates each field's offset (`slots`), so that no
position is written by hand in Python or in a template.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from numbers import Integral
from typing import Any, Union

Shape = tuple[int, ...]
Strides = tuple[int, ...]


def contiguous_strides(shape: Sequence[int]) -> Strides:
    """Element strides of a C-contiguous array (a length-0 axis counts as length 1)."""
    strides = []
    step = 1
    for n in reversed(shape):
        strides.append(step)
        step *= max(n, 1)
    return tuple(reversed(strides))


def loop_strides(shape: Sequence[int], strides: Sequence[int], loop_shape: Sequence[int]
                 ) -> Strides:
    """An operand's strides inside a loop over `loop_shape` (0 where it broadcasts)."""
    return tuple(0 if n != m else st for n, m, st in zip(shape, loop_shape, strides))


def is_dense(shape: Sequence[int], strides: Sequence[int]) -> bool:
    """Whether the layout is C-contiguous (length-1 axes may have any stride)."""
    expect = contiguous_strides(shape)
    return all(n <= 1 or s == e for n, s, e in zip(shape, strides, expect))


#: the kinds of field (`ParamLayout._specs`)
_INTS, _NESTED, _RECORDS = "ints", "nested", "records"
_SEQUENCES = (tuple, list)


class LayoutError(AssertionError):
    """Values that do not fit a kernel's `ParamLayout`: a bug in the kernel's builder,
    never a user error (it names the kernel and the field)."""


#: A field's size: a count of integers, `(rows, width)` rows of integers, a nested
#: layout, or `(count, layout)` records of a nested layout.
FieldSize = Union[int, tuple[int, int], "ParamLayout", tuple[int, "ParamLayout"]]


@dataclass(frozen=True)
class ParamLayout:
    """The named plan slots of one kernel, in order.

    Make it with keyword arguments, in the order of the slots:
    `ParamLayout("dot", product=PRODUCT, batch=nb, strides=(3, nb))` declares
    `product` (a nested layout), `batch` (`nb` integers) and `strides` (3 rows of `nb`).
    Sizes come from static facts (ranks, operand counts), known when the kernel is
    lowered.
    """

    kernel: str
    fields: tuple[tuple[str, Any], ...]

    def __init__(self, kernel: str, /, **fields: FieldSize):
        specs = []
        for name, size in fields.items():
            _check_size(kernel, name, size)
            if isinstance(size, ParamLayout):
                specs.append((name, _NESTED, 1, size))
            elif isinstance(size, tuple) and isinstance(size[1], ParamLayout):
                specs.append((name, _RECORDS, size[0], size[1]))
            else:
                specs.append((name, _INTS, _length(size), size))
        object.__setattr__(self, "kernel", kernel)
        object.__setattr__(self, "fields", tuple(fields.items()))
        # derived once: build() runs for every kernel of every plan
        object.__setattr__(self, "_specs", tuple(specs))
        object.__setattr__(self, "_names", frozenset(fields))
        object.__setattr__(self, "_nparams", sum(_length(size) for size in fields.values()))
        text = ", ".join(f"{name}={size!r}" for name, size in fields.items())
        object.__setattr__(self, "_repr", f"ParamLayout({kernel!r}, {text})")

    @property
    def nparams(self) -> int:
        """The number of plan slots the kernel reads."""
        return self._nparams

    def slots(self, base: int = 0) -> Slots:
        """Each field's offset (from `base`), for templates: `p[{{ p.M }}]`."""
        return Slots(self, base)

    def build(self, **values: Any) -> list[int]:
        """The kernel's plan values from each field's value, in slot order.

        A field of count 1 takes an int or a sequence of one; a count n, a sequence of
        n ints; rows, a flat sequence of rows x width ints; a nested layout, a mapping
        of its fields (or its built list); records, a sequence of such. Raises
        LayoutError naming the kernel and the field for a missing, unknown or
        wrong-length value.
        """
        if values.keys() != self._names:
            self._check_names(values)
        out: list[int] = []
        for name, kind, count, size in self._specs:
            value = values[name]
            if kind != _INTS:  # ==, not is: a layout may come from a pickle
                out.extend(_nested(self.kernel, name, size, value) if kind == _NESTED
                           else self._records(name, count, size, value))
                continue
            # the common cases, made quick: one int, a tuple or list of the right length
            if type(value) is int and count == 1:
                out.append(value)
                continue
            if type(value) in _SEQUENCES and len(value) == count:
                try:
                    out.extend(map(int, value))
                    continue
                except TypeError:
                    pass  # _ints names the field
            out.extend(self._ints(name, count, size, value))
        return out

    def _check_names(self, values: dict) -> None:
        unknown = set(values) - self._names
        if unknown:
            raise LayoutError(f"kernel {self.kernel}: no field {', '.join(sorted(unknown))} "
                              f"(fields: {', '.join(n for n, _ in self.fields)})")
        missing = [name for name, _ in self.fields if name not in values]
        raise LayoutError(f"kernel {self.kernel}: no value for field {missing[0]}")

    def _ints(self, name: str, count: int, size: Any, value: Any) -> list[int]:
        try:
            flat = [int(value)] if isinstance(value, Integral) else list(map(int, value))
        except TypeError:
            raise LayoutError(f"kernel {self.kernel}: field {name} takes {count} integers, "
                              f"got {value!r}") from None
        if len(flat) != count:
            what = f"{size[0]} x {size[1]} = {count}" if isinstance(size, tuple) else count
            raise LayoutError(f"kernel {self.kernel}: field {name} takes {what} integers, "
                              f"got {len(flat)}: {flat}")
        return flat

    def _records(self, name: str, count: int, sub: ParamLayout, value: Any) -> list[int]:
        records = list(value)
        if len(records) != count:
            raise LayoutError(f"kernel {self.kernel}: field {name} takes {count} records "
                              f"of {sub.kernel}, got {len(records)}")
        return [v for record in records for v in _nested(self.kernel, name, sub, record)]

    def __repr__(self) -> str:
        return self._repr


def _nested(kernel: str, name: str, sub: ParamLayout, value: Any) -> list[int]:
    if isinstance(value, Mapping):
        return sub.build(**value)
    flat = list(map(int, value))
    if len(flat) != sub.nparams:
        raise LayoutError(f"kernel {kernel}: field {name} ({sub.kernel}) takes "
                          f"{sub.nparams} integers, got {len(flat)}")
    return flat


def _check_size(kernel: str, name: str, size: Any) -> None:
    if type(size) is int and size >= 0:
        return
    ok = isinstance(size, ParamLayout) or (isinstance(size, int) and size >= 0)
    if isinstance(size, tuple) and len(size) == 2 and isinstance(size[0], int):
        ok = size[0] >= 0 and (isinstance(size[1], ParamLayout)
                               or (isinstance(size[1], int) and size[1] >= 0))
    if not ok or isinstance(size, bool):
        raise LayoutError(f"kernel {kernel}: field {name} has size {size!r}: expected a "
                          "count, (rows, width), a ParamLayout or (count, ParamLayout)")


def _length(size: FieldSize) -> int:
    if isinstance(size, ParamLayout):
        return size.nparams
    if isinstance(size, tuple):
        count, each = size
        return count * (each.nparams if isinstance(each, ParamLayout) else each)
    return size


class Offset(int):
    """A field's first slot; `[i]` is its i-th integer (or row, for rows), checked
    against the field's size."""

    def __new__(cls, value: int, field: str, count: int, width: int = 1) -> Offset:
        self = super().__new__(cls, value)
        self.field, self.count, self.width = field, count, width
        return self

    def __getitem__(self, i: int) -> int:
        if not 0 <= i < self.count:
            raise LayoutError(f"field {self.field} has {self.count} entries: no entry {i}")
        return int(self) + i * self.width


class Slots:
    """The offsets of a layout's fields from `base`: `slots.name` is an `Offset`, or,
    for a nested layout, its `Slots` (records: `slots.name[i]`)."""

    def __init__(self, layout: ParamLayout, base: int = 0):
        self._layout, self._base = layout, base
        self._at: dict[str, Any] = {}
        at = base
        for name, size in layout.fields:
            if isinstance(size, ParamLayout):
                self._at[name] = Slots(size, at)
            elif isinstance(size, tuple) and isinstance(size[1], ParamLayout):
                self._at[name] = [Slots(size[1], at + i * size[1].nparams)
                                  for i in range(size[0])]
            elif isinstance(size, tuple):
                self._at[name] = Offset(at, name, size[0], size[1])
            else:
                self._at[name] = Offset(at, name, size)
            at += _length(size)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["_at"][name]
        except KeyError:
            layout = self.__dict__.get("_layout")
            raise AttributeError(f"kernel {layout.kernel if layout else '?'} has no plan "
                                 f"field {name}") from None

    def __int__(self) -> int:
        return self._base

    def __str__(self) -> str:
        return str(self._base)
