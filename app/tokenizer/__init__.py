"""The tokenizer: a vocabulary learned by pair merging, stored as compositions."""

from app.tokenizer.codec import IncrementalDecoder, Tokenizer, decode_utf8, validate_text
from app.tokenizer.training import DEFAULT_VOCAB_SIZE, train_vocabulary
from app.tokenizer.vocabulary import Vocabulary, load_vocabulary, save_vocabulary

__all__ = [
    "DEFAULT_VOCAB_SIZE",
    "IncrementalDecoder",
    "Tokenizer",
    "Vocabulary",
    "decode_utf8",
    "load_vocabulary",
    "save_vocabulary",
    "train_vocabulary",
    "validate_text",
]
