"""How a feature is "removed": background rows for tables, deleted or masked words for text."""

from .tabular import TabularMasker, summarize
from .text import TextMasker

__all__ = ["TabularMasker", "TextMasker", "summarize"]

from .image import ImageMasker

__all__ += ["ImageMasker"]
