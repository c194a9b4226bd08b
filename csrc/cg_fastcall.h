/* cg_fastcall.h: the call path of a compiled function, in C (Function.__call__).
 *
 * Compiled once per machine into a small cffi module of its own (cgraph/compile/
 * fastcall.py), which hands Python a factory: `make_caller(spec)` returns a builtin
 * that does what the Python call path does, for the common case only:
 *
 *   - each argument that already is a C-contiguous, aligned ndarray of the input's
 *     dtype (native byte order: PyArray_ISCARRAY_RO checks it) and rank is used as
 *     it is; a Python float or int, or a numpy scalar
 *     safely castable to a 0-d input's dtype, is converted into a slot on the stack;
 *     anything else goes through the input's Python converter (`ArgSpec.convert`);
 *   - the shared variables' storages are read (`_value`), and the shapes of all
 *     arrays make the key of the plan dictionary (bytes of int64 dims);
 *   - the outputs are allocated, the pointer table filled, and the module's entry
 *     (`<entry>_argv`) called with the GIL released, in a workspace kept from one
 *     call to the next (a fresh malloc per call faulted its pages in again whenever
 *     glibc had trimmed the heap: 64 KB cost 16 µs).
 *
 * Whatever this path does not handle (a plan not made yet, an update that changes a
 * shape) it hands to the Python path (`fallback(args)`), which then fills the plan
 * dictionary for the next call. A failing kernel's message goes to `on_error`, which
 * raises. This file is the only user of the CPython and numpy C APIs in cgraph.
 *
 * A call keeps its tables on the stack, so their sizes are fixed: a function with more
 * than CG_FC_MAX_ARGS inputs and shared variables together, outputs, updates or array
 * constants, or more than CG_FC_MAX_DIMS input dimensions, gets None from
 * `make_caller`, and its caller keeps the Python path for every call.
 */
#ifndef CGRAPH_FASTCALL_H
#define CGRAPH_FASTCALL_H

#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <Python.h>
#include <numpy/arrayobject.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "cg_errbuf.h"

/* The most inputs and shared variables together, and the most outputs, updates and
 * array constants, each; the pointer table holds all four kinds. */
#define CG_FC_MAX_ARGS 256
#define CG_FC_MAX_PTRS (4 * CG_FC_MAX_ARGS)
#define CG_FC_MAX_DIMS 1024

typedef int (*cg_argv_entry)(const int64_t *P, char *err, char *ws, void **A);

typedef struct {
    cg_argv_entry entry;
    int n_in, n_shared, n_out, n_upd, n_const, return_list, key_dims;
    int in_type[CG_FC_MAX_ARGS], in_ndim[CG_FC_MAX_ARGS];
    int out_type[CG_FC_MAX_ARGS], out_ndim[CG_FC_MAX_ARGS];
    PyArray_Descr *in_descr[CG_FC_MAX_ARGS];
    void *consts[CG_FC_MAX_ARGS];
    /* Borrowed: the builtin's `self` tuple holds them, where the garbage collector
     * sees them (the fallback refers back to the Function: a reference cycle). */
    PyObject *converters;  /* tuple: one callable per input */
    PyObject *shared;      /* tuple of SharedVariable */
    PyObject *plans;       /* dict: bytes key -> (P address, out dims bytes, all in place) */
    PyObject *fallback;    /* callable(args tuple) -> the call's result */
    PyObject *on_error;    /* callable(rc, message, arrays) -> raises */
    char *ws;              /* the workspace, kept between calls (grown as needed) */
    int64_t ws_size;
    int ws_busy;           /* a call (in another thread) is using `ws` */
} cg_caller;

static PyObject *cg_value_name;  /* "_value", interned */

static void cg_caller_free(PyObject *capsule)
{
    cg_caller *c = (cg_caller *)PyCapsule_GetPointer(capsule, "cgraph.caller");
    if (!c)
        return;
    for (int i = 0; i < c->n_in; ++i)
        Py_XDECREF(c->in_descr[i]);
    free(c->ws);
    PyMem_Free(c);
}

/* A Python int for an int64 input: stored in `slot` when it is in range (1); else 0,
 * and the converter raises (a value never wraps around). Other integer inputs go to
 * the converter, whose casting rules depend on allow_input_downcast. */
static int cg_int64_to_slot(PyObject *a, int type, void *slot)
{
    if (type != NPY_INT64)
        return 0;
    int overflow = 0;
    const long long v = PyLong_AsLongLongAndOverflow(a, &overflow);
    if (overflow || (v == -1 && PyErr_Occurred()))
        return PyErr_Clear(), 0;
    *(int64_t *)slot = (int64_t)v;
    return 1;
}

/* A 0-d argument that is a number: its value in `slot` as the input's C type.
 * Returns 1 when done, 0 when the Python converter must handle it. */
static int cg_scalar_to_slot(PyObject *a, int type, PyArray_Descr *descr, void *slot)
{
    if (PyFloat_CheckExact(a) || PyLong_CheckExact(a)) {
        if (type == NPY_DOUBLE || type == NPY_FLOAT) {
            const double v = PyFloat_AsDouble(a);
            if (v == -1.0 && PyErr_Occurred()) {
                PyErr_Clear();
                return 0;
            }
            if (type == NPY_DOUBLE)
                *(double *)slot = v;
            else
                *(float *)slot = (float)v;
            return 1;
        }
        return PyLong_CheckExact(a) && cg_int64_to_slot(a, type, slot);
    }
    if (PyArray_IsScalar(a, Generic)) {
        PyArray_Descr *from = PyArray_DescrFromScalar(a);
        if (!from)
            return PyErr_Clear(), 0;
        const int ok = PyArray_CanCastTypeTo(from, descr, NPY_SAFE_CASTING)
                       && PyArray_CastScalarToCtype(a, slot, descr) == 0;
        Py_DECREF(from);
        if (!ok)
            PyErr_Clear();
        return ok;
    }
    return 0;
}

static PyObject *cg_caller_call(PyObject *self, PyObject *args)
{
    cg_caller *c = (cg_caller *)PyCapsule_GetPointer(PyTuple_GET_ITEM(self, 0),
                                                     "cgraph.caller");
    if (!c)
        return NULL;
    if (!PyTuple_CheckExact(args) || PyTuple_GET_SIZE(args) != c->n_in)
        return PyObject_CallOneArg(c->fallback, args);
    const int n_arrays = c->n_in + c->n_shared;
    PyObject *held[2 * CG_FC_MAX_ARGS + 1];  /* new references to release */
    PyObject *outs[CG_FC_MAX_ARGS];
    void *A[CG_FC_MAX_PTRS];            /* arrays, outputs, updates, constants */
    double slots[CG_FC_MAX_ARGS];       /* 0-d numbers, 8 bytes each */
    int64_t key[CG_FC_MAX_DIMS];
    int n_held = 0, n_outs = 0, k = 0;
    PyObject *result = NULL;

    for (int i = 0; i < c->n_in; ++i) {
        PyObject *a = PyTuple_GET_ITEM(args, i);
        if (PyArray_CheckExact(a)) {
            PyArrayObject *arr = (PyArrayObject *)a;
            if (PyArray_TYPE(arr) == c->in_type[i] && PyArray_NDIM(arr) == c->in_ndim[i]
                    && PyArray_ISCARRAY_RO(arr)) {
                A[i] = PyArray_DATA(arr);
                goto have_array;
            }
            /* Another dtype numpy casts safely (int64 data for a float64 input), or
             * another layout: a C-contiguous copy in the input's dtype. */
            if (PyArray_NDIM(arr) == c->in_ndim[i]
                    && PyArray_CanCastArrayTo(arr, c->in_descr[i], NPY_SAFE_CASTING)) {
                Py_INCREF(c->in_descr[i]);  /* PyArray_FromArray steals it */
                a = PyArray_FromArray(arr, c->in_descr[i], NPY_ARRAY_CARRAY_RO);
                if (!a)
                    goto done;
                held[n_held++] = a;
                A[i] = PyArray_DATA((PyArrayObject *)a);
                goto have_array;
            }
        } else if (c->in_ndim[i] == 0
                   && cg_scalar_to_slot(a, c->in_type[i], c->in_descr[i], &slots[i])) {
            A[i] = &slots[i];
            continue;
        }
        a = PyObject_CallOneArg(PyTuple_GET_ITEM(c->converters, i), a);
        if (!a)
            goto done;
        held[n_held++] = a;
        if (!PyArray_CheckExact(a)) {  /* e.g. a numpy scalar: view it as an array */
            a = PyArray_FromAny(a, NULL, 0, 0, NPY_ARRAY_CARRAY_RO, NULL);
            if (!a)
                goto done;
            held[n_held++] = a;
        }
        if (PyArray_TYPE((PyArrayObject *)a) != c->in_type[i]
                || PyArray_NDIM((PyArrayObject *)a) != c->in_ndim[i]
                || !PyArray_ISCARRAY_RO((PyArrayObject *)a)) {
            result = PyObject_CallOneArg(c->fallback, args);
            goto done;
        }
        A[i] = PyArray_DATA((PyArrayObject *)a);
    have_array:
        for (int d = 0; d < c->in_ndim[i]; ++d)
            key[k++] = PyArray_DIMS((PyArrayObject *)a)[d];
    }
    for (int j = 0; j < c->n_shared; ++j) {
        PyObject *v = PyObject_GetAttr(PyTuple_GET_ITEM(c->shared, j), cg_value_name);
        if (!v)
            goto done;
        held[n_held++] = v;  /* another thread may set_value while the GIL is released */
        if (!PyArray_CheckExact(v) || !PyArray_ISCARRAY((PyArrayObject *)v)
                || k + PyArray_NDIM((PyArrayObject *)v) > CG_FC_MAX_DIMS) {
            result = PyObject_CallOneArg(c->fallback, args);
            goto done;
        }
        A[c->n_in + j] = PyArray_DATA((PyArrayObject *)v);
        for (int d = 0; d < PyArray_NDIM((PyArrayObject *)v); ++d)
            key[k++] = PyArray_DIMS((PyArrayObject *)v)[d];
    }

    {
        PyObject *kb = PyBytes_FromStringAndSize((const char *)key, (Py_ssize_t)(8 * k));
        if (!kb)
            goto done;
        PyObject *plan = PyDict_GetItemWithError(c->plans, kb);  /* borrowed */
        Py_DECREF(kb);
        if (!plan) {
            if (!PyErr_Occurred())
                result = PyObject_CallOneArg(c->fallback, args);
            goto done;
        }
        held[n_held++] = Py_NewRef(plan);  /* its P array must outlive the call */
        const int64_t *P = (const int64_t *)PyLong_AsVoidPtr(PyTuple_GET_ITEM(plan, 0));
        const int64_t *dims = (const int64_t *)PyBytes_AS_STRING(PyTuple_GET_ITEM(plan, 1));
        if (PyTuple_GET_ITEM(plan, 2) != Py_True) {  /* an update changes a shape */
            result = PyObject_CallOneArg(c->fallback, args);
            goto done;
        }
        for (int o = 0; o < c->n_out; ++o) {
            npy_intp shape[NPY_MAXDIMS];
            for (int d = 0; d < c->out_ndim[o]; ++d)
                shape[d] = (npy_intp)*dims++;
            PyObject *out = PyArray_SimpleNew(c->out_ndim[o], shape, c->out_type[o]);
            if (!out)
                goto done;
            outs[n_outs++] = out;
            A[n_arrays + o] = PyArray_DATA((PyArrayObject *)out);
        }
        for (int u = 0; u < c->n_upd; ++u)
            A[n_arrays + c->n_out + u] = NULL;
        for (int q = 0; q < c->n_const; ++q)
            A[n_arrays + c->n_out + c->n_upd + q] = c->consts[q];

        /* The workspace: the function's own, unless a call in another thread holds it
         * (the GIL is released during the kernels); the flag is read and set with the
         * GIL held. */
        const int64_t need = P[0];
        char *ws = NULL, *own = NULL;
        if (need > 0) {
            if (!c->ws_busy) {
                if (need > c->ws_size) {
                    free(c->ws);
                    c->ws_size = 0;
                    if (!(c->ws = (char *)malloc((size_t)need))) {
                        PyErr_Format(PyExc_MemoryError,
                                     "cgraph: cannot allocate %lld bytes of workspace",
                                     (long long)need);
                        goto done;
                    }
                    c->ws_size = need;
                }
                ws = c->ws;
                c->ws_busy = 1;
            } else if (!(ws = own = (char *)malloc((size_t)need))) {
                PyErr_Format(PyExc_MemoryError,
                             "cgraph: cannot allocate %lld bytes of workspace", (long long)need);
                goto done;
            }
        }
        char err[CG_ERRBUF];
        err[0] = 0;
        int rc;
        Py_BEGIN_ALLOW_THREADS
        rc = c->entry(P, err, ws, A);
        Py_END_ALLOW_THREADS
        if (own)
            free(own);
        else if (ws)
            c->ws_busy = 0;
        if (rc) {
            PyObject *arrays = PyList_New(0);
            if (arrays) {
                for (int i = 0; i < c->n_in; ++i)
                    PyList_Append(arrays, PyTuple_GET_ITEM(args, i));
                PyObject *r = PyObject_CallFunction(c->on_error, "iyO", rc, err, arrays);
                Py_XDECREF(r);
                Py_DECREF(arrays);
            }
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_RuntimeError, err);
            goto done;
        }
    }
    if (c->return_list) {
        result = PyList_New(n_outs);
        if (!result)
            goto done;
        for (int o = 0; o < n_outs; ++o)
            PyList_SET_ITEM(result, o, outs[o]);
        n_outs = 0;  /* the list owns them */
    } else if (c->n_out == 1) {
        result = outs[0];
        n_outs = 0;
    } else {
        result = Py_NewRef(Py_None);
    }
done:
    for (int o = 0; o < n_outs; ++o)
        Py_DECREF(outs[o]);
    for (int h = 0; h < n_held; ++h)
        Py_DECREF(held[h]);
    return result;
}

static PyMethodDef cg_call_def = {"call", cg_caller_call, METH_O,
                                  "Call the compiled function with a tuple of arguments."};

static int cg_as_ints(PyObject *seq, int *out, int n)
{
    for (int i = 0; i < n; ++i) {
        const long v = PyLong_AsLong(PyTuple_GET_ITEM(seq, i));
        if (v == -1 && PyErr_Occurred())
            return -1;
        out[i] = (int)v;
    }
    return 0;
}

/* make_caller((entry address, in types, in ndims, out types, out ndims, n_upd,
 *              constants, converters, shared, plans, fallback, on_error, return_list)):
 * the builtin, or None when the function is bigger than this path's tables. */
static PyObject *cg_make_caller(PyObject *module, PyObject *spec)
{
    (void)module;
    PyObject *entry, *in_t, *in_n, *out_t, *out_n, *consts, *conv, *shared, *plans, *fb, *oe;
    int n_upd, return_list;
    if (!PyArg_ParseTuple(spec, "OO!O!O!O!iO!O!O!O!OOp", &entry, &PyTuple_Type, &in_t,
                          &PyTuple_Type, &in_n, &PyTuple_Type, &out_t, &PyTuple_Type, &out_n,
                          &n_upd, &PyTuple_Type, &consts, &PyTuple_Type, &conv,
                          &PyTuple_Type, &shared, &PyDict_Type, &plans, &fb, &oe,
                          &return_list))
        return NULL;
    const Py_ssize_t n_in = PyTuple_GET_SIZE(in_t), n_out = PyTuple_GET_SIZE(out_t);
    const Py_ssize_t n_const = PyTuple_GET_SIZE(consts), n_shared = PyTuple_GET_SIZE(shared);
    if (n_upd < 0 || PyTuple_GET_SIZE(in_n) != n_in || PyTuple_GET_SIZE(out_n) != n_out
            || PyTuple_GET_SIZE(conv) != n_in) {
        PyErr_SetString(PyExc_ValueError, "cgraph fast call: inconsistent spec");
        return NULL;
    }
    if (n_in + n_shared > CG_FC_MAX_ARGS || n_out > CG_FC_MAX_ARGS || n_upd > CG_FC_MAX_ARGS
            || n_const > CG_FC_MAX_ARGS
            || n_in + n_shared + n_out + n_upd + n_const > CG_FC_MAX_PTRS)
        Py_RETURN_NONE;
    cg_caller *c = (cg_caller *)PyMem_Calloc(1, sizeof(cg_caller));
    if (!c)
        return PyErr_NoMemory();
    PyObject *capsule = PyCapsule_New(c, "cgraph.caller", cg_caller_free);
    if (!capsule) {
        PyMem_Free(c);
        return NULL;
    }
    c->entry = (cg_argv_entry)PyLong_AsVoidPtr(entry);
    c->n_in = (int)n_in;
    c->n_shared = (int)n_shared;
    c->n_out = (int)n_out;
    c->n_upd = n_upd;
    c->n_const = (int)n_const;
    c->return_list = return_list;
    if (PyErr_Occurred() || cg_as_ints(in_t, c->in_type, c->n_in)
            || cg_as_ints(in_n, c->in_ndim, c->n_in) || cg_as_ints(out_t, c->out_type, c->n_out)
            || cg_as_ints(out_n, c->out_ndim, c->n_out))
        goto fail;
    int dims = 0;
    for (int i = 0; i < c->n_in; ++i) {
        dims += c->in_ndim[i];
        c->in_descr[i] = PyArray_DescrFromType(c->in_type[i]);
        if (!c->in_descr[i])
            goto fail;
    }
    for (int o = 0; o < c->n_out; ++o)
        if (c->out_ndim[o] > NPY_MAXDIMS)
            goto too_many;
    if (dims > CG_FC_MAX_DIMS)
        goto too_many;
    for (int q = 0; q < c->n_const; ++q) {
        PyObject *a = PyTuple_GET_ITEM(consts, q);
        if (!PyArray_Check(a) || !PyArray_ISCARRAY_RO((PyArrayObject *)a)) {
            PyErr_SetString(PyExc_TypeError, "cgraph fast call: a constant is not a C array");
            goto fail;
        }
        c->consts[q] = PyArray_DATA((PyArrayObject *)a);
    }
    c->converters = conv;
    c->shared = shared;
    c->plans = plans;
    c->fallback = fb;
    c->on_error = oe;
    /* self: the capsule and every object the struct borrows (constants included) */
    PyObject *state = PyTuple_Pack(7, capsule, conv, shared, plans, fb, oe, consts);
    Py_DECREF(capsule);
    if (!state)
        return NULL;
    PyObject *call = PyCFunction_New(&cg_call_def, state);
    Py_DECREF(state);
    return call;
too_many:
    Py_DECREF(capsule);
    Py_RETURN_NONE;
fail:
    Py_DECREF(capsule);
    return NULL;
}

static PyMethodDef cg_make_caller_def = {"make_caller", cg_make_caller, METH_O,
                                         "A builtin calling one compiled function."};

/* The factory, as a new reference (NULL with an exception set on failure). */
static PyObject *cg_fastcall_factory(void)
{
    if (_import_array() < 0)
        return NULL;
    if (!cg_value_name && !(cg_value_name = PyUnicode_InternFromString("_value")))
        return NULL;
    return PyCFunction_New(&cg_make_caller_def, NULL);
}

#endif
