"""Entry point of the ``fastgd`` console script."""

import argparse
import sys


def _demo(args):
    from .demo import run_demo
    return run_demo(quick=args.quick)


def build_parser():
    parser = argparse.ArgumentParser(prog="fastgd", description="Gradient descent at native speed.")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="show the lessons of gradient descent with real fits")
    demo.add_argument("--quick", action="store_true", help="smaller problems (for tests)")
    demo.set_defaults(func=_demo)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    return args.func(args) or 0


if __name__ == "__main__":
    sys.exit(main())
