"""The OpenAI-compatible HTTP API: Falcon resources served by Waitress."""

from app.api.app import ApiState, create_app
from app.api.config import ApiSettings
from app.api.http.server import Server
from app.api.runtime.engine_slot import EngineSlot

__all__ = ["ApiSettings", "ApiState", "EngineSlot", "Server", "create_app"]
