"""asv: import time and first-call (compile) time, each in a fresh process."""


class Compile:
    timeout = 300

    def timeraw_import_fastgd(self):
        return "import fastgd"

    def timeraw_first_adam_step_cold_cache(self):
        # a private, empty numba cache: this is the full compile time
        setup = ("import os, tempfile\n"
                 "os.environ['NUMBA_CACHE_DIR'] = tempfile.mkdtemp()\n"
                 "import numpy as np, fastgd\n"
                 "x = np.ones(10); g = np.ones(10)\n")
        return "fastgd.Adam(x, lr=0.1).step(g)", setup

    def timeraw_first_adam_step_warm_cache(self):
        setup = ("import numpy as np, fastgd\n"
                 "x = np.ones(10); g = np.ones(10)\n"
                 "fastgd.Adam(x, lr=0.1)\n")
        return "fastgd.Adam(x, lr=0.1).step(g)", setup
