"""The OpenAI-compatible HTTP API: Falcon resources served by Waitress."""

from app.api.app import ApiState, create_app
from app.api.config import ApiSettings
from app.api.engine_slot import EngineSlot
from app.api.server import Server

__all__ = ["ApiSettings", "ApiState", "EngineSlot", "Server", "create_app"]
