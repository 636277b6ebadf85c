"""What the command line reports without a traceback, and the choices its parser offers.

Kept free of heavy imports: ``fastgd --help`` and argument errors are
answered without importing numba or scikit-learn.
"""

#: the estimators ``fastgd fit --model`` trains
MODELS = ("logistic", "linear", "svm", "mlp", "mlp-classifier", "mlp-regressor")


class CLIError(Exception):
    """A problem to report in one line (no traceback), then exit with status 1."""


def one_line(text):
    """``text`` on one line (newlines become '; ')."""
    return "; ".join(part.strip() for part in str(text).splitlines() if part.strip())

#: --scale: what fit does to the features (fastgd.cli.scale); here so --help imports nothing
SCALES = ("standard", "none")
