"""The product shell: the web UI served at ``/`` and the desktop window around it."""

from app.ui.routes import add_ui_routes, is_ui_path

__all__ = ["add_ui_routes", "is_ui_path"]
