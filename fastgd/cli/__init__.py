"""The ``fastgd`` command line: ``fastgd demo`` and friends."""

from .main import main

__all__ = ["main"]
