"""Grounded chat: questions about the ingested code answered from the code index, with the
file and line of every part of the answer (see :class:`GroundedChat`)."""

from app.grounded.answer import Answer, Source
from app.grounded.chat import GroundedChat
from app.grounded.continuation import Continuation
from app.grounded.intent import Intent, classify

__all__ = ["Answer", "Continuation", "GroundedChat", "Intent", "Source", "classify"]
