"""A thin layer over llvmlite's IR builder so kernels read like the C they replace.

Mutable variables are stack slots (``alloca``) that the optimiser promotes to registers;
loops and branches are context managers. Every integer is i64 unless a buffer says
otherwise: narrow loads are widened (zero- or sign-extended) as they are read.
:class:`Row` reads the frame's slots and the segment table's fields by their names in
jit/layout.py, each buffer as a :class:`Buffer` of the dtype its row declares.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import numpy as np
from llvmlite import ir

from jit.layout import BUFFER, SCALAR, Slot, SlotTable

I8 = ir.IntType(8)
I32 = ir.IntType(32)
I64 = ir.IntType(64)
F64 = ir.DoubleType()
PTR = ir.PointerType()


def c64(value: int) -> ir.Constant:
    return ir.Constant(I64, value)


def cf(value: float) -> ir.Constant:
    return ir.Constant(F64, value)


class Var:
    """A mutable local."""

    def __init__(self, fn: Fn, typ: ir.Type, init: ir.Value | None) -> None:
        self.fn = fn
        self.typ = typ
        with fn.b.goto_block(fn.entry):
            # Slots live in the entry block, where mem2reg/SROA can promote them.
            self.slot = fn.b.alloca(typ)
        if init is not None:
            self.set(init)

    def get(self) -> ir.Value:
        return self.fn.b.load(self.slot, typ=self.typ)

    def set(self, value: ir.Value) -> None:
        self.fn.b.store(value, self.slot)


class Fn:
    """One function being built."""

    def __init__(self, module: ir.Module, name: str, ret: ir.Type,
                 args: list[tuple[str, ir.Type]], *, internal: bool = False) -> None:
        self.func = ir.Function(module, ir.FunctionType(ret, [t for _, t in args]), name=name)
        if internal:
            self.func.linkage = "internal"
        self.args = {}
        for (arg_name, _), value in zip(args, self.func.args, strict=True):
            value.name = arg_name
            self.args[arg_name] = value
        self.entry = self.func.append_basic_block("entry")
        body = self.func.append_basic_block("body")
        self.b = ir.IRBuilder(self.entry)
        self.b.branch(body)
        self.b.position_at_end(body)
        self._exits: list[ir.Block] = []

    # -- values -------------------------------------------------------------------------

    def var(self, typ: ir.Type, init: ir.Value | int | float | None = None) -> Var:
        if isinstance(init, int) and typ is I64:
            init = c64(init)
        elif isinstance(init, (int, float)) and typ is F64:
            init = cf(float(init))
        return Var(self, typ, init)

    def at(self, base: ir.Value, index: ir.Value, typ: ir.Type) -> ir.Value:
        return self.b.gep(base, [index], source_etype=typ)

    def load_u8(self, base: ir.Value, index: ir.Value) -> ir.Value:
        return self.b.zext(self.b.load(self.at(base, index, I8), typ=I8), I64)

    def load_u32(self, base: ir.Value, index: ir.Value) -> ir.Value:
        return self.b.zext(self.b.load(self.at(base, index, I32), typ=I32), I64)

    def load_i32(self, base: ir.Value, index: ir.Value) -> ir.Value:
        return self.b.sext(self.b.load(self.at(base, index, I32), typ=I32), I64)

    def load_i64(self, base: ir.Value, index: ir.Value) -> ir.Value:
        return self.b.load(self.at(base, index, I64), typ=I64)

    def load_f64(self, base: ir.Value, index: ir.Value) -> ir.Value:
        return self.b.load(self.at(base, index, F64), typ=F64)

    def load_ptr(self, base: ir.Value, index: ir.Value) -> ir.Value:
        """A buffer address stored in an int64 slot."""
        return self.b.inttoptr(self.load_i64(base, index), PTR)

    def store_32(self, base: ir.Value, index: ir.Value, value: ir.Value) -> None:
        self.b.store(self.b.trunc(value, I32), self.at(base, index, I32))

    def store_i64(self, base: ir.Value, index: ir.Value, value: ir.Value) -> None:
        self.b.store(value, self.at(base, index, I64))

    def store_f64(self, base: ir.Value, index: ir.Value, value: ir.Value) -> None:
        self.b.store(value, self.at(base, index, F64))

    def to_f64(self, value: ir.Value) -> ir.Value:
        return self.b.sitofp(value, F64)

    def min(self, a: ir.Value, b: ir.Value) -> ir.Value:
        return self.b.select(self.b.icmp_signed("<", a, b), a, b)

    def max(self, a: ir.Value, b: ir.Value) -> ir.Value:
        return self.b.select(self.b.icmp_signed(">", a, b), a, b)

    # -- control flow -------------------------------------------------------------------

    @contextlib.contextmanager
    def loop(self, start: ir.Value, stop: ir.Value) -> Iterator[ir.Value]:
        """``for i in range(start, stop)``; ``brk()`` inside leaves it."""
        i = self.var(I64, start)
        with self.while_(lambda: self.b.icmp_signed("<", i.get(), stop)):
            index = i.get()
            # The increment goes first so that `cont()` needs no separate latch.
            i.set(self.b.add(index, c64(1)))
            yield index

    @contextlib.contextmanager
    def while_(self, cond: Callable[[], ir.Value]) -> Iterator[None]:
        head = self.func.append_basic_block("head")
        body = self.func.append_basic_block("loop")
        done = self.func.append_basic_block("done")
        self.b.branch(head)
        self.b.position_at_end(head)
        self.b.cbranch(cond(), body, done)
        self.b.position_at_end(body)
        self._exits.append(done)
        self._heads = [*getattr(self, "_heads", []), head]
        yield
        self._exits.pop()
        self._heads.pop()
        if not self.b.block.is_terminated:
            self.b.branch(head)
        self.b.position_at_end(done)

    def brk(self) -> None:
        """Leave the innermost loop (code after this in the block is unreachable)."""
        self.b.branch(self._exits[-1])
        self.b.position_at_end(self.func.append_basic_block("dead"))

    def cont(self) -> None:
        """Next iteration of the innermost loop."""
        self.b.branch(self._heads[-1])
        self.b.position_at_end(self.func.append_basic_block("dead"))

    @contextlib.contextmanager
    def if_(self, cond: ir.Value) -> Iterator[None]:
        with self.b.if_then(cond):
            yield

    def if_else(self, cond: ir.Value):
        return self.b.if_else(cond)

    def ret(self, value: ir.Value | None = None) -> None:
        if value is None:
            self.b.ret_void()
        else:
            self.b.ret(value)
        self.b.position_at_end(self.func.append_basic_block("dead"))

    def finish(self) -> None:
        """Close the last (possibly unreachable) block."""
        if not self.b.block.is_terminated:
            self.b.unreachable()


class Buffer:
    """A buffer's address, read and written as its dtype says: loads widen to i64 (zero-
    or sign-extended as the dtype is unsigned or signed), stores narrow."""

    def __init__(self, fn: Fn, pointer: ir.Value, dtype: np.dtype) -> None:
        if dtype not in _LOADS:
            raise TypeError(f"no kernel buffers of {dtype}")
        self.fn = fn
        self.pointer = pointer
        self.dtype = dtype
        self._load = getattr(fn, _LOADS[dtype])
        self._store = getattr(fn, _STORES[dtype]) if dtype in _STORES else None

    def load(self, index: ir.Value) -> ir.Value:
        return self._load(self.pointer, index)

    def store(self, index: ir.Value, value: ir.Value) -> None:
        if self._store is None:
            raise TypeError(f"kernels do not write {self.dtype} buffers")
        self._store(self.pointer, index, value)


_LOADS = {np.dtype(np.uint8): "load_u8", np.dtype(np.uint32): "load_u32",
          np.dtype(np.int32): "load_i32", np.dtype(np.int64): "load_i64",
          np.dtype(np.float64): "load_f64"}
_STORES = {np.dtype(np.uint32): "store_32", np.dtype(np.int32): "store_32",
           np.dtype(np.int64): "store_i64", np.dtype(np.float64): "store_f64"}


class Row:
    """The slots of one row of a slot table (jit/layout.py) by name: the frame at ``base``,
    or one record of a table of them, ``offset`` slots into it. Each call emits its load
    where it is made (the optimiser drops those a kernel never uses)."""

    def __init__(self, fn: Fn, table: SlotTable, base: ir.Value,
                 offset: ir.Value | None = None) -> None:
        self.fn = fn
        self.table = table
        self.base = base
        self.offset = offset

    def _index(self, slot: Slot) -> ir.Value:
        if self.offset is None:
            return c64(slot.index)
        return self.fn.b.add(self.offset, c64(slot.index))

    def _slot(self, name: str, kind: str) -> Slot:
        slot = self.table[name]
        if slot.kind != kind:
            raise TypeError(f"{self.table.prefix} slot {name} is a {slot.kind}, not a {kind}")
        return slot

    def scalar(self, name: str) -> ir.Value:
        """The i64 in scalar slot ``name``."""
        return self.fn.load_i64(self.base, self._index(self._slot(name, SCALAR)))

    def buffer(self, name: str) -> Buffer:
        """The buffer slot ``name`` points to, typed as its row says."""
        slot = self._slot(name, BUFFER)
        assert slot.dtype is not None
        return Buffer(self.fn, self.fn.load_ptr(self.base, self._index(slot)), slot.dtype)

    def store(self, name: str, value: ir.Value) -> None:
        """Write scalar slot ``name``."""
        self.fn.store_i64(self.base, self._index(self._slot(name, SCALAR)), value)
