"""A frame: the one int64 array a kernel reads its inputs from, plus the numpy buffers it
points to (kept alive here, and readable by the reference implementations).

What goes in which slot, with which dtype and length, is jit/layout.py's :data:`FRAME`
table: :meth:`Frame.allocate` makes the buffers the frame owns, :meth:`Frame.update` sets
scalars and hands it the others by name, checking each against its row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from jit.layout import (
    ALLOCATED,
    BUFFER,
    FIT,
    FRAME,
    SCALAR,
    SCORING,
    SEGMENT,
    Slot,
    SlotTable,
)

_F_NSEG, _F_SEGS = FRAME.index["NSEG"], FRAME.index["SEGS"]
_SCALARS = [(slot.name, slot.index) for slot in FRAME if slot.kind == SCALAR]
_ALLOCATED = {owner: [slot for slot in FRAME.owned(owner) if slot.kind == BUFFER]
              for owner in ALLOCATED}
_REQUIRED = ("N", "NROWS")  # a segment without these cannot be read


def _check(slot: Slot, value: object, table: SlotTable) -> None:
    if slot.kind == SCALAR:
        if isinstance(value, np.ndarray):
            raise TypeError(f"{table.prefix} slot {slot.name} holds a number, not an array")
        return
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{table.prefix} slot {slot.name} holds a {slot.dtype} buffer")
    if value.dtype != slot.dtype:
        raise TypeError(f"{table.prefix} slot {slot.name} holds {slot.dtype}, "
                        f"not {value.dtype}")
    if not value.flags.c_contiguous:
        raise ValueError("kernel buffers must be C-contiguous")


class Fields:
    """One segment's fields by name, as its row of the segment table points to them."""

    def __init__(self, values: Mapping[str, np.ndarray | int]) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self.values: dict[str, int] = {}
        for name, value in values.items():
            _check(SEGMENT[name], value, SEGMENT)
            if isinstance(value, np.ndarray):
                self.arrays[name] = value
            else:
                self.values[name] = int(value)

    def array(self, name: str) -> np.ndarray:
        return self.arrays[name]

    def get(self, name: str, default: int | None = None) -> int:
        if default is not None:
            return self.values.get(name, default)
        return self.values[name]


class SegmentTable:
    """Segments as the kernels read them: each one's :class:`Fields` and the int64 table
    of their rows. The kernels only read it, so any number of frames can share one."""

    def __init__(self, segments: Sequence[Mapping[str, np.ndarray | int]]) -> None:
        self.fields = [Fields(segment) for segment in segments]
        self.table = np.zeros(max(1, len(self.fields)) * SEGMENT.fields, dtype=np.int64)
        for s, view in enumerate(self.fields):
            if any(name not in view.values for name in _REQUIRED):
                raise ValueError("a segment needs its length and row count")
            base = s * SEGMENT.fields
            for name, array in view.arrays.items():
                self.table[base + SEGMENT.index[name]] = array.ctypes.data
            for name, value in view.values.items():
                self.table[base + SEGMENT.index[name]] = value
        self.table.flags.writeable = False
        self.address = int(self.table.ctypes.data)


class Frame:
    """Slots and buffers for one caller (one stream, one scoring pass...).

    Buffers must be C-contiguous numpy arrays of the dtype the layout names; the frame holds
    a reference to each, so an address in ``slots`` never outlives its buffer. Slots are
    named as in :data:`jit.layout.FRAME` (``"HIST"``) or given by index (``F_HIST``).
    """

    def __init__(self) -> None:
        self.slots = np.zeros(FRAME.fields, dtype=np.int64)
        # Read once: ``ndarray.ctypes.data`` costs about a microsecond per access, as much
        # as a cache update itself, and the slots array never moves. ctypes passes a frame
        # as this address (the kernels take it as their one pointer).
        self._address = int(self.slots.ctypes.data)
        self._as_parameter_ = self._address
        self.arrays: dict[int, np.ndarray] = {}
        self.segments: list[Fields] = []

    @property
    def address(self) -> int:
        return self._address

    def set(self, slot: int | str, value: int) -> None:
        self.slots[slot if isinstance(slot, int) else FRAME.index[slot]] = value

    def get(self, slot: int | str) -> int:
        return int(self.slots[slot if isinstance(slot, int) else FRAME.index[slot]])

    def array(self, name: str) -> np.ndarray:
        """The buffer the slot named ``name`` points to."""
        return self.arrays[FRAME.index[name]]

    def set_array(self, slot: int | str, array: np.ndarray, address: int | None = None) -> None:
        """Point ``slot`` at ``array``; ``address`` is its data address if the caller has
        it already (reading ``array.ctypes.data`` costs about a microsecond)."""
        row = FRAME.slots[slot] if isinstance(slot, int) else FRAME[slot]
        _check(row, array, FRAME)
        self.arrays[row.index] = array
        self.slots[row.index] = array.ctypes.data if address is None else address

    def update(self, **values: np.ndarray | int) -> None:
        """Set slots by name: a number for a scalar slot, a buffer for a buffer slot."""
        for name, value in values.items():
            if isinstance(value, np.ndarray):
                self.set_array(name, value)
            else:
                _check(FRAME[name], value, FRAME)
                self.set(name, value)

    def allocate(self, owner: str) -> None:
        """Fresh buffers for every slot of ``owner`` (jit.layout SCRATCH or HISTORY), sized
        by their rows for the scalars set now and filled as their rows say."""
        slots = self.slots
        scalars = {name: int(slots[index]) for name, index in _SCALARS}
        for slot in _ALLOCATED[owner]:
            assert slot.dtype is not None
            size = slot.length(scalars)
            array = (np.zeros(size, dtype=slot.dtype) if slot.fill == 0
                     else np.full(size, slot.fill, dtype=slot.dtype))
            self.arrays[slot.index] = array
            self.slots[slot.index] = array.ctypes.data

    def unset(self) -> list[str]:
        """The buffer slots that point nowhere yet (a kernel would read address 0)."""
        return [slot.name for slot in FRAME
                if slot.kind == BUFFER and slot.index not in self.arrays]

    def set_segments(self, segments: SegmentTable | Sequence[Mapping[str, np.ndarray | int]]
                     ) -> None:
        """Point the frame at segments: a :class:`SegmentTable` (shared, built once) or
        mappings from segment field name (jit.layout :data:`SEGMENT`) to array or int."""
        table = segments if isinstance(segments, SegmentTable) else SegmentTable(segments)
        self.segments = table.fields
        self.arrays[_F_SEGS] = table.table
        self.slots[_F_SEGS] = table.address
        self.slots[_F_NSEG] = len(table.fields)


class Slots:
    """The slots of a kernel's own table (a jit.layout :class:`SlotTable` such as
    :data:`FIT`), with the buffers they point to (kept alive here, and readable by the
    references by name). A native kernel is passed its address, as a frame's."""

    def __init__(self, table: SlotTable, values: Mapping[str, np.ndarray | int]) -> None:
        self.table = table
        self.slots = np.zeros(table.fields, dtype=np.int64)
        self.arrays: dict[str, np.ndarray] = {}
        self.values: dict[str, int] = {}
        for name, value in values.items():
            self.set(name, value)
        self.address = int(self.slots.ctypes.data)
        self._as_parameter_ = self.address

    def set(self, name: str, value: np.ndarray | int) -> None:
        slot = self.table[name]
        _check(slot, value, self.table)
        if isinstance(value, np.ndarray):
            self.arrays[name] = value
            self.slots[slot.index] = value.ctypes.data
        else:
            self.values[name] = int(value)
            self.slots[slot.index] = int(value)

    def array(self, name: str) -> np.ndarray:
        return self.arrays[name]

    def get(self, name: str) -> int:
        return self.values[name]

    def unset(self) -> list[str]:
        """The slots not set yet (a kernel would read 0 or address 0)."""
        return [slot.name for slot in self.table if slot.name not in self.arrays
                and slot.name not in self.values]


class FitTable(Slots):
    """The fit kernels' slots (jit.layout :data:`FIT`)."""

    def __init__(self, values: Mapping[str, np.ndarray | int]) -> None:
        super().__init__(FIT, values)


class ScoringTable(Slots):
    """hc_score_weights' slots (jit.layout :data:`SCORING`)."""

    def __init__(self, values: Mapping[str, np.ndarray | int]) -> None:
        super().__init__(SCORING, values)
