"""Tensor types, tensor variables and constants, and the typed constructors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from cgraph.configdefaults import config
from cgraph.graph.basic import Constant, Type, Variable

#: dtypes that cgraph compiles, with their C types.
C_TYPES = {
    "bool": "uint8_t",
    "int8": "int8_t",
    "int16": "int16_t",
    "int32": "int32_t",
    "int64": "int64_t",
    "uint8": "uint8_t",
    "uint16": "uint16_t",
    "uint32": "uint32_t",
    "uint64": "uint64_t",
    "float32": "float",
    "float64": "double",
}

Shape = tuple[int | None, ...]


class TensorType(Type):
    """The type of an n-d array: a dtype and a static shape.

    Parameters
    ----------
    dtype : str or numpy dtype
        One of the keys of `C_TYPES`.
    shape : tuple of (int or None)
        Static length of each axis; None means unknown until call time. A 1 marks
        an axis that broadcasts.
    """

    def __init__(self, dtype: Any, shape: Sequence[int | None | bool] | None = None,
                 broadcastable: Sequence[bool] | None = None):
        dtype = str(np.dtype(dtype))
        if dtype not in C_TYPES:
            raise TypeError(f"unsupported dtype {dtype!r}; cgraph supports {sorted(C_TYPES)}")
        self.dtype = dtype
        if broadcastable is not None:
            if shape is not None:
                raise TypeError("TensorType: give `shape` or `broadcastable`, not both")
            shape = broadcastable
        if shape is None:
            raise TypeError("TensorType: the static shape is missing (e.g. (None, None))")
        self.shape: Shape = tuple(_static_length(s) for s in shape)
        if any(s is not None and s < 0 for s in self.shape):
            raise ValueError(f"negative static shape {self.shape}")

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def broadcastable(self) -> tuple[bool, ...]:
        return tuple(s == 1 for s in self.shape)

    @property
    def is_continuous(self) -> bool:
        """Whether values vary continuously (floats); gradients flow only through these."""
        return self.dtype.startswith("float")

    @property
    def c_type(self) -> str:
        return C_TYPES[self.dtype]

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, TensorType) and self.dtype == other.dtype
                and self.shape == other.shape)

    def __hash__(self) -> int:
        return hash((self.dtype, self.shape))

    def __str__(self) -> str:
        dims = ",".join("?" if s is None else str(s) for s in self.shape)
        return f"{self.dtype}[{dims}]"

    __repr__ = __str__

    def clone(self, dtype: Any = None, shape: Sequence[int | None] | None = None) -> TensorType:
        """A copy with a new dtype and/or shape."""
        return TensorType(self.dtype if dtype is None else dtype,
                          self.shape if shape is None else shape)

    def make_variable(self, name: str | None = None) -> TensorVariable:
        return TensorVariable(self, name=name)

    def __call__(self, name: str | None = None, shape: Sequence[int | None] | None = None
                 ) -> TensorVariable:
        """A free variable of this type (`T.dmatrix("x")`, as in Theano); `shape` refines
        the static shape where this type leaves it unknown (`T.dmatrix("x", shape=(None,
        1))`)."""
        return (self if shape is None else self.refine(shape)).make_variable(name)

    def refine(self, shape: Sequence[int | None]) -> TensorType:
        """This type with the static lengths of `shape` (None keeps an entry); a length
        that contradicts a known one, or a shape of another rank, raises ValueError."""
        shape = tuple(_static_length(s) for s in shape)
        if len(shape) != self.ndim:
            raise ValueError(f"the shape {shape} has {len(shape)} entries for a "
                             f"{self.ndim}-d type ({self})")
        merged = []
        for axis, (have, want) in enumerate(zip(self.shape, shape)):
            if have is not None and want is not None and have != want:
                raise ValueError(f"the shape {shape} contradicts the type {self} on axis "
                                 f"{axis}")
            merged.append(have if want is None else want)
        return TensorType(self.dtype, merged)

    def make_constant(self, value: Any, name: str | None = None) -> TensorConstant:
        return TensorConstant(self, value, name=name)

    def filter(self, value: Any, allow_downcast: bool | None = None) -> np.ndarray:
        """Convert `value` to an ndarray of this type, or raise TypeError/ValueError.

        Lossless conversions (int to float64, Python numbers and lists) are
        accepted. A lossy one raises unless `allow_downcast` is true; a Python
        float given for a float32 tensor is accepted as in Theano.
        """
        arr = value if isinstance(value, np.ndarray) else np.asarray(value)
        if arr.dtype != self.dtype:
            arr = self._convert_dtype(value, arr, allow_downcast)
        if arr.ndim != self.ndim:
            raise TypeError(f"expected a {self.ndim}-d array of {self.dtype}, "
                            f"got {arr.ndim}-d with shape {arr.shape}")
        for axis, (want, got) in enumerate(zip(self.shape, arr.shape)):
            if want is not None and want != got:
                raise ValueError(f"expected length {want} on axis {axis} (type {self}), "
                                 f"got shape {arr.shape}")
        return arr

    def _convert_dtype(
        self, value: Any, arr: np.ndarray, allow_downcast: bool | None
    ) -> np.ndarray:
        if self.dtype in _INT_RANGES and _is_python_scalar_list(value):
            ints = _python_ints(value, arr, self.dtype)  # raises if one is out of range
            if ints is not None and allow_downcast is not False:
                return ints
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"expected an array of {self.dtype}, got {arr.dtype}")
        if allow_downcast or np.can_cast(arr.dtype, self.dtype, casting="safe"):
            return arr.astype(self.dtype)
        python_float = isinstance(value, float) and self.dtype.startswith("float")
        if python_float or (allow_downcast is None and _is_python_scalar_list(value)
                            and _fits(arr, self.dtype)):
            return arr.astype(self.dtype)
        raise TypeError(
            f"cannot convert {arr.dtype} to {self.dtype} without losing precision; "
            f"cast it first or pass allow_input_downcast=True"
        )


def _static_length(entry: Any) -> int | None:
    """One entry of a static shape: an int >= 0 or None; a bool is Theano's broadcastable
    flag (True: length 1, False: unknown)."""
    if entry is None or entry is False:
        return None
    if entry is True:
        return 1
    return int(entry)


def _is_python_scalar_list(value: Any) -> bool:
    return isinstance(value, (int, float, list, tuple)) and not isinstance(value, bool)


_INT_RANGES = {name: (int(np.iinfo(name).min), int(np.iinfo(name).max))
               for name in C_TYPES if name[0] in "iu"}


def _python_ints(value: Any, arr: np.ndarray, dtype: str) -> np.ndarray | None:
    """The Python ints `value` (of which numpy made `arr`) as an exact array of the
    integer `dtype`, or None when `value` holds other numbers. A TypeError when an int
    is out of the dtype's range (allowed downcast or not: it would wrap around)."""
    if arr.dtype.kind in "iu":
        ints = arr
    elif arr.dtype.kind in "fO" and _only_ints(value):
        # numpy made float64 of ints past 2**63 next to small ones (or objects past 2**64)
        ints = np.array(value, dtype=object)
    else:
        return None
    if ints.size:
        low, high = _INT_RANGES[dtype]
        for v in (int(ints.min()), int(ints.max())):
            if not low <= v <= high:
                raise TypeError(f"the Python integer {v} is out of bounds for {dtype} "
                                f"({low} to {high})")
    return ints.astype(dtype)


def _only_ints(value: Any) -> bool:
    if isinstance(value, (list, tuple)):
        return all(map(_only_ints, value))
    return isinstance(value, int)


def _fits(arr: np.ndarray, dtype: str) -> bool:
    converted = arr.astype(dtype)
    return bool(np.array_equal(converted.astype(arr.dtype), arr, equal_nan=arr.dtype.kind == "f"))


class TensorVariable(Variable):
    """A symbolic n-d array. Arithmetic and numpy-like methods are attached by
    `cgraph.tensor.methods`."""

    type: TensorType

    @property
    def ndim(self) -> int:
        return self.type.ndim

    @property
    def dtype(self) -> str:
        return self.type.dtype

    @property
    def broadcastable(self) -> tuple[bool, ...]:
        return self.type.broadcastable


class TensorConstant(TensorVariable, Constant):
    """A tensor whose value is fixed when the graph is built."""

    def __init__(self, type: TensorType, data: Any, name: str | None = None):
        Constant.__init__(self, type, data, name=name)
        self.data.setflags(write=False)

    def signature(self) -> Any:
        return (self.type, self.data.shape, self.data.tobytes())

    def __repr__(self) -> str:
        if self.name is not None:
            return self.name
        if self.data.size <= 8:
            return np.array2string(self.data, separator=", ")
        return f"Constant{{{self.type}}}"


def constant(value: Any, name: str | None = None, dtype: Any = None) -> TensorConstant:
    """Return a tensor constant holding `value` (converted with numpy).

    Python ints become int64 and Python floats floatX unless `dtype` is given.
    """
    arr = np.array(value, dtype=dtype)
    if dtype is None and arr.dtype == np.float64 and _all_python_floats(value):
        arr = arr.astype(config.floatX)
    ttype = TensorType(arr.dtype, arr.shape)
    return TensorConstant(ttype, arr, name=name)


def _all_python_floats(value: Any) -> bool:
    if isinstance(value, (list, tuple)):
        return all(_all_python_floats(v) for v in value)
    return isinstance(value, (float, int)) and not isinstance(value, np.generic)


def as_tensor_variable(x: Any, name: str | None = None, ndim: int | None = None) -> TensorVariable:
    """Return `x` as a tensor variable: variables pass through, data becomes a constant."""
    if isinstance(x, TensorVariable):
        var = x
    elif isinstance(x, Variable):
        raise TypeError(f"expected a tensor variable, got {x!r} of type {x.type}")
    else:
        try:
            var = constant(x, name=name)
        except (TypeError, ValueError) as err:
            raise TypeError(f"cannot convert {x!r} to a tensor: {err}") from None
    if ndim is not None and var.ndim != ndim:
        raise TypeError(f"expected a {ndim}-d tensor, got {var!r} of type {var.type}")
    return var


# --------------------------------------------------------------------------- constructors


def tensor(dtype: Any = None, shape: Sequence[int | None] | None = None, name: str | None = None,
           ndim: int | None = None, broadcastable: Sequence[bool] | None = None
           ) -> TensorVariable:
    """Return a free tensor variable of the given dtype (default floatX) and shape.

    `shape` holds static lengths (None: unknown; 1: broadcastable, PyTensor's static
    shapes); Theano's `broadcastable=(False, True)` is accepted too.
    """
    if isinstance(dtype, TensorType):  # PyTensor: tensor(dtype, name=...) with a type
        return dtype(name, shape)
    if shape is None and broadcastable is None:
        shape = (None,) * (ndim or 0)
    ttype = TensorType(dtype or config.floatX, shape, broadcastable=broadcastable)
    if ndim is not None and ttype.ndim != ndim:
        raise ValueError(f"tensor: ndim={ndim} and the shape {ttype.shape} disagree")
    return ttype.make_variable(name)


def _constructor(ndim_shape: Shape, kind: str):
    def make(name: str | None = None, dtype: Any = None,
             shape: Sequence[int | None] | None = None) -> TensorVariable:
        return TensorType(dtype or config.floatX, ndim_shape)(name, shape)

    make.__name__ = kind
    make.__doc__ = (f"Return a free {kind} variable (dtype floatX unless `dtype` is given; "
                    "`shape` sets static lengths, 1 for a broadcastable axis).")
    return make


_SHAPES = {
    "scalar": (),
    "vector": (None,),
    "matrix": (None, None),
    "row": (1, None),
    "col": (None, 1),
    "tensor3": (None,) * 3,
    "tensor4": (None,) * 4,
    "tensor5": (None,) * 5,
}
_PREFIXES = {"b": "int8", "w": "int16", "i": "int32", "l": "int64", "f": "float32", "d": "float64"}

#: The typed constructors. As in Theano, the prefixed ones (`dscalar`, `fmatrix`, ...)
#: are `TensorType` instances: calling one makes a variable (`T.dmatrix("x")`), and
#: `T.dmatrix("x").type == T.dmatrix`. The plain ones (`matrix`) are functions taking
#: `dtype`, since their dtype is `config.floatX` when called.
constructors: dict[str, Any] = {kind: _constructor(shape, kind) for kind, shape in _SHAPES.items()}
constructors.update({prefix + kind: TensorType(dtype, shape)
                     for kind, shape in _SHAPES.items()
                     for prefix, dtype in _PREFIXES.items()})


def _plural(single: Any, name: str):
    def make(*names: str, dtype: Any = None) -> tuple[TensorVariable, ...]:
        if len(names) == 1 and isinstance(names[0], int):  # dscalars(3): three unnamed
            names = (None,) * names[0]
        if dtype is None:
            return tuple(single(n) for n in names)
        if isinstance(single, TensorType):
            return tuple(single.clone(dtype=dtype)(n) for n in names)
        return tuple(single(n, dtype=dtype) for n in names)

    make.__name__ = name
    one = name[:-3] + "x" if name.endswith("matrices") else name[:-1]
    make.__doc__ = (f"Several variables at once, one per name, each as `{one}(name)` makes "
                    f"it: `a, b = {name}('a', 'b')`; `{name}(3)` makes three unnamed ones, "
                    "and `dtype=` overrides the dtype.")
    return make


for _name, _single in list(constructors.items()):
    _plural_name = _name[:-2] + "ices" if _name.endswith("matrix") else _name + "s"
    constructors[_plural_name] = _plural(_single, _plural_name)
