"""The generation engine: sampling, streaming and scoring over the statistical model."""

from app.engine.engine import CONTEXT_LENGTH, MODEL_ID, Engine
from app.engine.loader import load_engine
from app.engine.types import (
    Completion,
    Delta,
    EngineProtocol,
    ModelInfo,
    SamplingParams,
    TokenLogprob,
)

__all__ = [
    "CONTEXT_LENGTH",
    "MODEL_ID",
    "Completion",
    "Delta",
    "Engine",
    "EngineProtocol",
    "ModelInfo",
    "SamplingParams",
    "TokenLogprob",
    "load_engine",
]
