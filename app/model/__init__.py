"""The statistical language model: ∞-gram segments, parameters and sessions."""

from app.model.params import ModelParams
from app.model.runtime import Model, RepetitionTables, Session
from app.model.segment import KMAX, THRESH, Segment, build_segment

__all__ = ["KMAX", "THRESH", "Model", "ModelParams", "RepetitionTables", "Segment", "Session",
           "build_segment"]
