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
        for name, size in fields.items():
            _check_size(kernel, name, size)
        object.__setattr__(self, "kernel", kernel)
        object.__setattr__(self, "fields", tuple(fields.items()))

    @property
    def nparams(self) -> int:
        """The number of plan slots the kernel reads."""
        return sum(_length(size) for _, size in self.fields)

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
        unknown = set(values) - {name for name, _ in self.fields}
        if unknown:
            raise LayoutError(f"kernel {self.kernel}: no field {', '.join(sorted(unknown))} "
                              f"(fields: {', '.join(n for n, _ in self.fields)})")
        out: list[int] = []
        for name, size in self.fields:
            if name not in values:
                raise LayoutError(f"kernel {self.kernel}: no value for field {name}")
            out.extend(self._field(name, size, values[name]))
        return out

    def _field(self, name: str, size: FieldSize, value: Any) -> list[int]:
        if isinstance(size, ParamLayout):
            return _nested(self.kernel, name, size, value)
        if isinstance(size, tuple) and isinstance(size[1], ParamLayout):
            count, sub = size
            records = list(value)
            if len(records) != count:
                raise LayoutError(f"kernel {self.kernel}: field {name} takes {count} records "
                                  f"of {sub.kernel}, got {len(records)}")
            return [v for record in records for v in _nested(self.kernel, name, sub, record)]
        expect = _length(size)
        flat = [value] if isinstance(value, Integral) else value
        try:
            flat = [int(v) for v in flat]
        except TypeError:
            raise LayoutError(f"kernel {self.kernel}: field {name} takes {expect} integers, "
                              f"got {value!r}") from None
        if len(flat) != expect:
            what = f"{size[0]} x {size[1]} = {expect}" if isinstance(size, tuple) else expect
            raise LayoutError(f"kernel {self.kernel}: field {name} takes {what} integers, "
                              f"got {len(flat)}: {flat}")
        return flat

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={size!r}" for name, size in self.fields)
        return f"ParamLayout({self.kernel!r}, {fields})"


def _nested(kernel: str, name: str, sub: ParamLayout, value: Any) -> list[int]:
    if isinstance(value, Mapping):
        return sub.build(**value)
    flat = [int(v) for v in value]
    if len(flat) != sub.nparams:
        raise LayoutError(f"kernel {kernel}: field {name} ({sub.kernel}) takes "
                          f"{sub.nparams} integers, got {len(flat)}")
    return flat


def _check_size(kernel: str, name: str, size: Any) -> None:
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
