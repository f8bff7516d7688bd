"""A frame: the one int64 array a kernel reads its inputs from, plus the numpy buffers it
points to (kept alive here, and readable by the reference implementations)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from jit.layout import F_NSEG, F_SEGS, FRAME_FIELDS, S_N, S_NROWS, SEG_FIELDS


class Frame:
    """Slots and buffers for one caller (one stream, one scoring pass...).

    Buffers must be C-contiguous numpy arrays of the dtype the layout names; the frame holds
    a reference to each, so an address in ``slots`` never outlives its buffer.
    """

    def __init__(self) -> None:
        self.slots = np.zeros(FRAME_FIELDS, dtype=np.int64)
        # Read once: ``ndarray.ctypes.data`` costs about a microsecond per access, as much
        # as a cache update itself, and the slots array never moves.
        self._address = int(self.slots.ctypes.data)
        self.arrays: dict[int, np.ndarray] = {}
        self.segments: list[dict[int, np.ndarray | int]] = []
        self._segtable = np.zeros(0, dtype=np.int64)

    @property
    def address(self) -> int:
        return self._address

    def set(self, slot: int, value: int) -> None:
        self.slots[slot] = value

    def get(self, slot: int) -> int:
        return int(self.slots[slot])

    def set_array(self, slot: int, array: np.ndarray, address: int | None = None) -> None:
        """Point ``slot`` at ``array``; ``address`` is its data address if the caller has
        it already (reading ``array.ctypes.data`` costs about a microsecond)."""
        if not array.flags.c_contiguous:
            raise ValueError("kernel buffers must be C-contiguous")
        self.arrays[slot] = array
        self.slots[slot] = array.ctypes.data if address is None else address

    def set_segments(self, segments: Sequence[Mapping[int, np.ndarray | int]]) -> None:
        """Point the frame at segments, each a mapping from segment slot to array or int."""
        table = np.zeros(max(1, len(segments)) * SEG_FIELDS, dtype=np.int64)
        for s, segment in enumerate(segments):
            for slot, value in segment.items():
                if isinstance(value, np.ndarray):
                    if not value.flags.c_contiguous:
                        raise ValueError("segment buffers must be C-contiguous")
                    table[s * SEG_FIELDS + slot] = value.ctypes.data
                else:
                    table[s * SEG_FIELDS + slot] = int(value)
            if S_N not in segment or S_NROWS not in segment:
                raise ValueError("a segment needs its length and row count")
        self.segments = [dict(s) for s in segments]
        self._segtable = table
        self.slots[F_SEGS] = table.ctypes.data
        self.slots[F_NSEG] = len(segments)
