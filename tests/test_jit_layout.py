"""The declarative slot table (jit/layout.py) and what is derived from it: indices, the
frame's own buffers, the checks on those it is handed, the IR loads, the kernel set."""

from __future__ import annotations

import numpy as np
import pytest
from llvmlite import ir

from app.model import Model, ModelParams, build_segment
from jit import Frame, kernels, reference
from jit.irgen import I64, PTR, Fn, Row
from jit.layout import (
    BUFFER,
    FRAME,
    FRAME_FIELDS,
    HISTORY,
    SCALAR,
    SCRATCH,
    SEG_FIELDS,
    SEGMENT,
)

V = 30


def _model(native: bool = True) -> Model:
    rng = np.random.default_rng(0)
    docs = [rng.integers(0, V, 50).astype(np.uint32) for _ in range(5)]
    return Model([build_segment(docs, V, thresh=4)], ModelParams.default(), V,
                 kernels(native=native))


def test_indices_are_table_positions_under_their_old_names() -> None:
    import jit.layout as layout

    # tests/bench/bench_engine.py indexes the raw frame by these numbers.
    assert (layout.F_HIST, layout.F_LEN, layout.F_ML, layout.F_PREV, layout.F_HEAD) == (
        12, 13, 14, 15, 16)
    assert layout.F_DRY_SAVE == FRAME_FIELDS - 1 == 40
    assert layout.S_WEIGHT == SEG_FIELDS - 1 == 10
    assert [slot.index for slot in FRAME] == list(range(FRAME.fields))
    assert all(layout.__getattr__(f"F_{slot.name}") == slot.index for slot in FRAME)
    with pytest.raises(AttributeError):
        _ = layout.F_NOT_A_SLOT


def test_a_session_frame_has_every_buffer_of_its_rows_dtype_and_size() -> None:
    session = _model().session(16)
    frame = session.frame
    assert frame.unset() == []
    scalars = {slot.name: frame.get(slot.name) for slot in FRAME if slot.kind == SCALAR}
    assert scalars["CAP"] == 16 and scalars["NSEG"] == 1
    for slot in FRAME:
        if slot.kind != BUFFER:
            continue
        array = frame.array(slot.name)
        assert array.dtype == slot.dtype, slot.name
        assert frame.slots[slot.index] == array.ctypes.data
        if slot.owner in (SCRATCH, HISTORY):
            assert len(array) == slot.length(scalars), slot.name
    assert (frame.array("HEAD")[:V] == -1).all()  # the empty history: SEP only
    assert len(frame.array("LO")) == 65 and len(frame.array("CLW")) == 32


def test_allocation_follows_the_scalars_set() -> None:
    frame = Frame()
    frame.update(V=5, KMAX=3)
    frame.allocate(SCRATCH)
    assert len(frame.array("OUT")) == 5
    assert len(frame.array("LO")) == 4  # no segments still count one
    assert (frame.array("HEAD") == -1).all()
    frame.set("CAP", 7)
    frame.allocate(HISTORY)
    assert len(frame.array("HIST")) == 7 and len(frame.array("CLW")) == 14
    assert "ALPHA" in frame.unset() and "OUT" not in frame.unset()


def test_the_frame_checks_what_it_is_handed_against_the_table() -> None:
    frame = Frame()
    with pytest.raises(TypeError, match="float64"):
        frame.update(ALPHA=np.zeros(3, dtype=np.float32))
    with pytest.raises(TypeError, match="number"):
        frame.update(V=np.zeros(1, dtype=np.int64))
    with pytest.raises(ValueError, match="contiguous"):
        frame.update(P0=np.zeros(6)[::2])
    with pytest.raises(KeyError, match="no frame slot"):
        frame.update(NOPE=1)
    with pytest.raises(ValueError, match="length and row count"):
        frame.set_segments([{"R": np.zeros(3, dtype=np.uint32)}])
    with pytest.raises(TypeError, match="int32"):
        frame.set_segments([{"N": 3, "NROWS": 0, "SA": np.zeros(3, dtype=np.int64)}])


def test_ir_rows_load_named_slots_of_the_right_kind() -> None:
    module = ir.Module()
    f = Fn(module, "probe", I64, [("frame", PTR)])
    row = Row(f, FRAME, f.args["frame"])
    hist = row.buffer("HIST")
    assert hist.dtype == np.dtype(np.uint32)
    with pytest.raises(TypeError, match="scalar"):
        row.buffer("LEN")
    with pytest.raises(TypeError, match="buffer"):
        row.scalar("HIST")
    with pytest.raises(TypeError, match="uint8"):
        row.buffer("DRY_BREAK").store(row.scalar("LEN"), row.scalar("V"))
    segment = Row(f, SEGMENT, row.buffer("SEGS").pointer, row.scalar("NSEG"))
    assert segment.buffer("ROWKEY").dtype == np.dtype(np.int64)
    f.ret(hist.load(row.scalar("LEN")))
    f.finish()
    assert "zext i32" in str(module)


def test_the_kernel_set_is_chosen_once() -> None:
    native, slow = kernels(), kernels(native=False)
    assert native.native and not slow.native
    # The per-frame kernels are the chosen set's own functions: no dispatch per call.
    assert slow.dist is reference.dist and slow.dry_restore is reference.dry_restore
    assert native.dist is native._impl.dist
    session = _model().session(8)
    session.reset([1, 2, 3, 1, 2])
    assert native.dist(session.frame) == session.bound.dist()
