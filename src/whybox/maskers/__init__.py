"""How a feature is "removed": background rows for tables, deleted or masked words for text (by words, or
by the model's own tokenizer), hidden regions or superpixels for images."""

from .image import ImageMasker
from .tabular import TabularMasker, summarize
from .text import TextMasker
from .text_tokens import Text

__all__ = ["ImageMasker", "TabularMasker", "Text", "TextMasker", "summarize"]
