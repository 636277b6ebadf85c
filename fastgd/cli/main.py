"""Entry point of the ``fastgd`` console script.

    fastgd demo [--quick] [--plot FILE] [--optimizers]
    fastgd fit DATA --target COLUMN --model logistic|linear|svm|mlp [options] [--out MODEL]
    fastgd predict MODEL DATA [--out FILE] [--proba]
    fastgd bench [SECTION ...] [--list]

``main(argv)`` returns the exit status: 0 on success, 1 when the input is
unusable (the reason is printed as one line on stderr, without a
traceback), 2 for a malformed command line (argparse's usage message).
"""

import argparse
import os
import sys

from .data import FORMATS
from .errors import MODELS, SCALES, CLIError, one_line

EPILOG = """\
examples:
  fastgd demo                               the lessons of gradient descent, with real fits
  fastgd demo --plot curves.png             ... and a PNG of the loss curves (needs matplotlib)
  fastgd fit data.csv --target label --model logistic --out model.npz
  fastgd predict model.npz new.csv --out predictions.csv
  fastgd lr-find data.csv --target label --model logistic   suggest a learning rate
  fastgd bench optim                        fastgd against NumPy/PyTorch/scikit-learn
"""


def _quiet_threads():
    """Let numba's OpenMP workers sleep between parallel regions in the CLI's process.

    With GNU OpenMP's default (active) waiting, idle workers spin after each
    parallel region; on a loaded 2-core machine they steal the CPU from the
    thread doing the work, and the demo's small epochs measured 20 ms instead
    of 0.07 ms each. The environment variable is read when OpenMP starts (the
    first parallel call), so it is set before any fit; a value set by the
    user wins.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "passive")


def _demo(args):
    from .demo import run_demo
    try:
        run_demo(quick=args.quick, plot=args.plot, optimizers=args.optimizers)
    except ImportError as exc:
        if args.plot is None or "matplotlib" not in str(exc):
            raise
        raise CLIError(str(exc)) from None
    return 0


def _fit(args):
    from .fit import run_fit
    run_fit(args)
    return 0


def _lr_find(args):
    from .fit import run_lr_find
    run_lr_find(args)
    return 0


def _predict(args):
    from .fit import run_predict
    run_predict(args)
    return 0


def _bench(args):
    from .. import bench
    from ..bench import harness
    if args.list:
        for mod in harness.SECTION_MODULES:
            try:
                __import__(f"fastgd.bench.{mod}")
            except ModuleNotFoundError as exc:
                if exc.name != f"fastgd.bench.{mod}":
                    raise
        for name in harness.SECTIONS:
            print(name)
        return 0
    try:
        bench.run(args.sections or None, out=lambda line: print(line, flush=True))
    except ValueError as exc:
        if "unknown section" not in str(exc):
            raise
        raise CLIError(str(exc)) from None
    return 0


def _batch_size(text):
    if text.lower() in ("full", "none", "all"):
        return None
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer or 'full', got {text!r}")
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer or 'full', got {text!r}")
    return value


def _lr(text):
    if text.lower() == "auto":
        return "auto"
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive number or 'auto', got {text!r}")
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number or 'auto', got {text!r}")
    return value


def _tol(text):
    if text.lower() == "none":
        return None
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number or 'none', got {text!r}")


def build_parser():
    """The argument parser of ``fastgd`` and its subcommands."""
    parser = argparse.ArgumentParser(
        prog="fastgd", description="Gradient descent at native speed.", epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser(
        "demo", help="the lessons of gradient descent, shown with real fits",
        description="Fits one generated least-squares problem (20,000 x 20, float32) with batch, "
                    "stochastic and mini-batch gradient descent and Adam, sweeps the learning "
                    "rate from crawling to diverging, and finds one with the range test. A few "
                    "seconds once the kernels are compiled; the first run compiles them "
                    "(once: they are cached on disk).")
    demo.add_argument("--quick", action="store_true", help="2,000 rows instead of 20,000 (tests, CI)")
    demo.add_argument("--plot", metavar="FILE",
                      help='write a PNG of the loss curves (needs matplotlib: pip install "fastgd[plot]")')
    demo.add_argument("--optimizers", action="store_true",
                      help="also race every update rule on Rosenbrock's valley")
    demo.set_defaults(func=_demo, threads=True)

    fit = sub.add_parser(
        "fit", help="fit a model on a CSV or .npy file and save it",
        description="Fit a fastgd estimator on DATA: a CSV with a header row (the target is a "
                    "column name; every other column is a numeric feature) or a 2-D .npy array "
                    "(the target is a column index; the file is memory-mapped), or an svmlight/"
                    "libsvm file (.svm, .svmlight, .libsvm; the label is the target; read as a "
                    "sparse matrix, never densified). Prints one line "
                    "per epoch and the final metrics, and saves the model (.npz) for "
                    "`fastgd predict`.")
    fit.add_argument("data", metavar="DATA",
                     help="a .csv (header row), .npy or svmlight (.svm) file")
    fit.add_argument("--target", metavar="COLUMN",
                     help="the target column: a name (CSV) or an index such as 0 or -1 (.npy); "
                          "required for those, not for svmlight files (the label)")
    fit.add_argument("--format", choices=FORMATS, default="auto",
                     help="the file's format (default: from the suffix)")
    fit.add_argument("--model", required=True, choices=_model_choices(), metavar="MODEL",
                     help="logistic, linear, svm (linear SVM), or mlp (classifier for labels or "
                          "few integer values, else regressor; or say mlp-classifier/mlp-regressor)")
    fit.add_argument("--optimizer", default="adam",
                     help="an update rule: sgd, adam, adamw, rmsprop, ... (default adam)")
    fit.add_argument("--lr", type=_lr, default=1e-2,
                     help="learning rate, or 'auto' (the rate from the rule and the data, the "
                          "intercept started at the best constant: see README, lr=\"auto\"; "
                          "default 0.01)")
    fit.add_argument("--batch-size", type=_batch_size, default=256,
                     help="rows per step, or 'full' for batch gradient descent (default 256)")
    fit.add_argument("--epochs", type=int, default=100,
                     help="at most this many epochs (default 100)")
    fit.add_argument("--tol", type=_tol, default=1e-4,
                     help="stop when the loss improves by less than this for 5 epochs; "
                          "'none' runs every epoch (default 1e-4)")
    fit.add_argument("--alpha", type=float, default=1e-4, help="L2 regularisation (default 1e-4)")
    _scale_argument(fit)
    fit.add_argument("--early-stopping", action="store_true",
                     help="hold out 10%% of the rows, stop when their score has not improved by "
                          "--tol for 5 epochs, keep the best epoch")
    fit.add_argument("--hidden", metavar="SIZES", help="MLP hidden layer widths, e.g. 64,32")
    fit.add_argument("--dtype", choices=("auto", "float32", "float64"), default="auto",
                     help="floating type to train in (auto: the .npy's own float type, "
                          "float64 for CSV)")
    fit.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    fit.add_argument("--out", metavar="MODEL",
                     help="where to save the model (default: DATA's name + .MODEL.npz, here)")
    fit.set_defaults(func=_fit, threads=True)

    predict = sub.add_parser(
        "predict", help="predict with a saved model",
        description="Load a model saved by `fastgd fit` and predict every row of DATA (same "
                    "kind of file as for fitting; the target column may be present or not). "
                    "Writes CSV to stdout, or to --out (.csv, or .npy for an array).")
    predict.add_argument("model", metavar="MODEL", help="a model file written by fastgd fit")
    predict.add_argument("data", metavar="DATA", help="a .csv, .npy or svmlight (.svm) file")
    predict.add_argument("--format", choices=FORMATS, default="auto",
                         help="the file's format (default: from the suffix)")
    predict.add_argument("--out", metavar="FILE", help="write here instead of stdout (.csv or .npy)")
    predict.add_argument("--proba", action="store_true",
                         help="class probabilities instead of labels (logistic, mlp classifiers)")
    predict.set_defaults(func=_predict, threads=True)

    lrf = sub.add_parser(
        "lr-find", help="find a learning rate: the range test on a CSV or .npy file",
        description="The learning-rate range test (Smith 2017): a few hundred mini-batch "
                    "steps on DATA while the rate grows exponentially from --min-lr to "
                    "--max-lr; prints the loss along the way and suggests a rate for "
                    "`fastgd fit --lr` (one tenth of the rate with the lowest smoothed loss). "
                    "DATA, --target and --model as for `fastgd fit`; nothing is saved.")
    lrf.add_argument("data", metavar="DATA", help="a .csv (header row) or .npy file")
    lrf.add_argument("--target", required=True, metavar="COLUMN",
                     help="the target column: a name (CSV) or an index (.npy)")
    lrf.add_argument("--model", required=True, choices=_model_choices(), metavar="MODEL",
                     help="logistic, linear, svm or mlp, as for fit")
    lrf.add_argument("--optimizer", default="adam", help="the update rule (default adam)")
    lrf.add_argument("--batch-size", type=_batch_size, default=256,
                     help="rows per step, or 'full' (default 256)")
    lrf.add_argument("--alpha", type=float, default=1e-4, help="L2 regularisation (default 1e-4)")
    _scale_argument(lrf)
    lrf.add_argument("--hidden", metavar="SIZES", help="MLP hidden layer widths, e.g. 64,32")
    lrf.add_argument("--min-lr", type=float, default=1e-6, help="the first rate (default 1e-6)")
    lrf.add_argument("--max-lr", type=float, default=10.0, help="the last rate (default 10)")
    lrf.add_argument("--steps", type=int, default=100, help="number of steps (default 100)")
    lrf.add_argument("--dtype", choices=("auto", "float32", "float64"), default="auto",
                     help="floating type (auto: the .npy's own, float64 for CSV)")
    lrf.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    lrf.add_argument("--plot", metavar="FILE",
                     help='write a PNG of loss against rate (needs matplotlib: pip install "fastgd[plot]")')
    lrf.set_defaults(func=_lr_find, threads=True)

    bench = sub.add_parser(
        "bench", help="fastgd against NumPy, PyTorch and scikit-learn, side by side",
        description="Runs the comparison sections of fastgd.bench (a peer that is not installed "
                    "is skipped) and prints the ratios table: peer time / fastgd time, > 1 means "
                    "fastgd is faster. On 2 shared cores, compile time included, the section "
                    "'optim' took about 15 s, 'losses' 30 s, 'minimize' 60 s and 'dask' (a local "
                    "cluster) almost 4 minutes.")
    bench.add_argument("sections", nargs="*", metavar="SECTION",
                       help="sections to run (default: all; see --list)")
    bench.add_argument("--list", action="store_true", help="list the sections and exit")
    bench.set_defaults(func=_bench, threads=False)
    return parser


def _scale_argument(parser):
    parser.add_argument(
        "--scale", choices=SCALES, default="standard",
        help="standard (the default): standardise every feature to mean 0 and std 1 with "
             "statistics from one pass over the rows, stored in the model file and applied by "
             "`fastgd predict` -- gradient descent converges much faster on scaled features "
             "(scikit-learn's breast cancer table: 98.6%% training accuracy against 90.7%% "
             "with none); none: train on the values as they are (warns when they look badly "
             "scaled)")


def _model_choices():
    return MODELS


def main(argv=None):
    """Run the ``fastgd`` command line with ``argv`` (default: ``sys.argv[1:]``); returns the status."""
    args = build_parser().parse_args(argv)
    if args.threads:
        _quiet_threads()
    try:
        return args.func(args) or 0
    except CLIError as exc:
        print(f"fastgd {args.command}: error: {one_line(exc)}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        print(f"fastgd {args.command}: interrupted", file=sys.stderr, flush=True)
        return 130
    except BrokenPipeError:
        # the reader went away (``fastgd ... | head``): stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
