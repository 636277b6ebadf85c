"""Side-by-side comparison: fastgd against its peers, one process, same data.

    python benchmarks/compare.py            # every section
    python benchmarks/compare.py optim      # one section

The sections live in ``fastgd/bench/`` so the installed ``fastgd bench``
runs the same code. Ratios are peer time / fastgd time (> 1: fastgd faster).
"""

import sys

from fastgd.bench import main

if __name__ == "__main__":
    sys.exit(main())
