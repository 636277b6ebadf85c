"""Side-by-side comparisons against peers, run in one process on the same data.

``python benchmarks/compare.py [SECTION ...]`` and ``fastgd bench`` print the
ratios table. Each section is a module here that registers functions with
:func:`fastgd.bench.harness.section`; a peer that is not installed is skipped
with a note. Timings are best-of-N wall-clock seconds after a warm-up call
(compile time excluded; ``bench_compile.py`` in asv measures it).
"""

from .harness import SECTIONS, main, run

__all__ = ["SECTIONS", "main", "run"]
