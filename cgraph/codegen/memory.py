"""The memory plan: workspace buffers reused once nothing reads them any more.

The schedule is fixed (the lowered node order), so each intermediate buffer has a
last reader: a view (DimShuffle & co) extends its base's life to the view's own
readers. `Workspace` hands out offsets first-fit from the blocks freed so far,
and only grows the workspace when none fits. Outputs of a node are placed before
that node's dead inputs are freed, so a kernel never writes over what it reads;
the one exception is `take_over`: an elementwise result may be written into an
input buffer of the same shape and dtype that nothing reads afterwards (element j
is read before element j is written, and nothing else looks at that memory).
"""

from __future__ import annotations

from collections.abc import Sequence

from cgraph.graph.basic import Apply, ViewOp


def view_bases(nodes: Sequence[Apply]) -> dict[int, int]:
    """id(view) -> id(the variable whose memory it shows), for every view in `nodes`."""
    base: dict[int, int] = {}
    for node in nodes:
        if isinstance(node.op, ViewOp):
            origin = node.inputs[node.op.view_of]
            base[id(node.outputs[0])] = base.get(id(origin), id(origin))
    return base


def last_uses(nodes: Sequence[Apply]) -> dict[int, int]:
    """id(variable) -> position of the last node reading it (directly or through views);
    a variable nothing reads ends where it is made."""
    base = view_bases(nodes)
    last: dict[int, int] = {}
    for k, node in enumerate(nodes):
        for v in node.inputs:
            last[base.get(id(v), id(v))] = k
        for out in node.outputs:
            last.setdefault(id(out), k)
    return last


class Workspace:
    """First-fit allocation of aligned blocks in one workspace, with reuse.

    The buffers of the variables whose ids are in `keep` (the function's outputs: an
    update is computed into the workspace and copied into its shared variable after
    the last kernel) are never reused.
    """

    def __init__(self, nodes: Sequence[Apply], align: int, keep: frozenset[int] = frozenset()):
        self.align = align
        self.size = 0
        self._free: list[tuple[int, int]] = []  # (offset, size), sorted by offset
        self._placed: dict[int, tuple[int, int]] = {}
        self._ends: dict[int, list[int]] = {}
        self._last = last_uses(nodes)
        self._base = view_bases(nodes)
        self._keep = keep
        for var_id, k in self._last.items():
            if var_id not in keep:
                self._ends.setdefault(k, []).append(var_id)

    def place(self, var_id: int, nbytes: int) -> int:
        """The offset of a new buffer of `nbytes` bytes for the variable `var_id`."""
        size = -(-nbytes // self.align) * self.align
        for i, (offset, free) in enumerate(self._free):
            if free >= size:
                if free == size:
                    del self._free[i]
                else:
                    self._free[i] = (offset + size, free - size)
                break
        else:
            offset = self.size
            self.size += size
        self._placed[var_id] = (offset, size)
        return offset

    def take_over(self, var_id: int, nbytes: int, node: Apply, k: int,
                  candidates: Sequence[int]) -> int | None:
        """The offset of an input buffer among `candidates` (ids of inputs of node `k`
        with the output's shape, dtype and dense layout) that dies at node `k`, handed
        to the output `var_id`; None when there is none. An input that another input of
        the node views (x and x.T) is never taken: the kernel reads it out of order."""
        size = -(-nbytes // self.align) * self.align
        viewed = {self._base[id(v)] for v in node.inputs if id(v) in self._base}
        for cand in candidates:
            block = self._placed.get(cand)
            if (block is None or block[1] != size or cand in self._keep or cand in viewed
                    or self._last.get(cand) != k):
                continue
            del self._placed[cand]
            self._placed[var_id] = block
            return block[0]
        return None

    def scratch(self, nbytes: int) -> int:
        """The offset of a block of `nbytes` bytes for the kernel of the node being
        planned (placed after its outputs, while its inputs are alive, so it overlaps
        neither), free again for the next node's buffers: the kernel's scratch."""
        size = -(-nbytes // self.align) * self.align
        offset = self.place(id(self), nbytes)
        del self._placed[id(self)]
        self._release(offset, size)
        return offset

    def node_done(self, k: int) -> None:
        """Free the buffers whose last reader is node `k`."""
        for var_id in self._ends.get(k, ()):
            block = self._placed.pop(var_id, None)
            if block is not None and block[1]:
                self._release(*block)

    def _release(self, offset: int, size: int) -> None:
        blocks = sorted([*self._free, (offset, size)])
        merged: list[tuple[int, int]] = []
        for start, n in blocks:
            if merged and merged[-1][0] + merged[-1][1] == start:
                merged[-1] = (merged[-1][0], merged[-1][1] + n)
            else:
                merged.append((start, n))
        self._free = merged
