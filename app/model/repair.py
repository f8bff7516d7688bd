"""``hypercube db repair``: rebuild whatever of the stored model is stale or damaged.

The model (segments and fitted parameters) is derived data: everything it holds comes from
the documents' checksummed token streams. An ingest run that was killed between committing
documents and updating the model, a damaged segment array, or a file ingested by an older
version leave it stale; loading then refuses it (app/model/loading.py) and this rebuilds it.
It is idempotent: on a current model it changes nothing and says so.
"""

from __future__ import annotations

from collections.abc import Callable

from app.model.maintain import update_model
from app.store import Store
from app.store.inspect import repair as drop_damaged_segments
from jit import Kernels


def repair_model(store: Store, kernels: Kernels, *,
                 on_phase: Callable[[str], None] | None = None) -> list[str]:
    """Bring the model in ``store`` up to date with its documents; what was done, one line
    each (empty when nothing was stale)."""
    done = drop_damaged_segments(store)
    report = update_model(store, kernels, on_phase=on_phase)
    if report.segments_removed:
        done.append(f"removed {report.segments_removed} stale model segment(s)")
    if report.segments_built:
        done.append(f"built {report.segments_built} model segment(s) indexing "
                    f"{report.documents_indexed} document(s)")
    if report.refitted:
        bits = report.heldout_bits_per_token
        held_out = "" if bits is None or bits != bits else f" ({bits:.3f} held-out bits/token)"
        done.append(f"fitted the model's parameters{held_out}")
    return done
