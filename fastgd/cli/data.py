"""Reading the data of ``fastgd fit`` and ``fastgd predict``: CSV with a header, or ``.npy``.

* CSV (``.csv``, ``.txt``; ``.tsv`` is tab-separated): the first row names
  the columns; the target is chosen by name; every other column is a
  feature and must be numeric. Parsed by ``numpy.loadtxt`` (C speed), into
  memory. A classifier's target column may hold text labels.
* ``.npy``: a 2-D numeric array, opened with ``numpy.load(mmap_mode="r")``
  so a file larger than memory is not read whole: when the target is the
  first or the last column, the features are a view of the memory map and
  fastgd's estimators stream it block by block. A target in between needs a
  copy of the features in memory (:attr:`Table.note` says so).
* svmlight / libsvm (``.svm``, ``.svmlight``, ``.libsvm``, or ``--format
  svmlight``): ``label index:value ...`` lines, read by scikit-learn's
  ``load_svmlight_file`` into a ``scipy.sparse`` CSR matrix (never
  densified: fastgd's linear models train on it as it is); the label is
  the target, and features are numbered as the file numbers them.

Every problem is reported as a :class:`DataError` whose message is one line
naming the file, and where it applies the line and the column.
"""

import csv
import os
import warnings
from dataclasses import dataclass, field

import numpy as np

CSV_SUFFIXES = {".csv": ",", ".txt": ",", ".tsv": "\t"}
SVMLIGHT_SUFFIXES = (".svm", ".svmlight", ".libsvm")
FORMATS = ("auto", "csv", "npy", "svmlight")


class DataError(ValueError):
    """The data file cannot be used; the message is one line naming the problem."""


@dataclass
class Table:
    """Features, optional target, and what they were read from."""

    X: np.ndarray
    y: np.ndarray = None
    feature_names: list = field(default_factory=list)   # CSV: names; .npy: "column i"
    target: object = None                               # CSV: name; .npy: index
    kind: str = "csv"                                   # "csv", "npy" or "svmlight"
    n_columns: int = 0
    note: str = ""
    zero_based: bool = None                             # svmlight: how the file numbers features


def _check_file(path):
    if not os.path.exists(path):
        raise DataError(f"{path}: no such file")
    if os.path.isdir(path):
        raise DataError(f"{path}: is a directory, not a data file")
    if not os.access(path, os.R_OK):
        raise DataError(f"{path}: permission denied")


def file_kind(path, fmt="auto"):
    """"csv", "npy" or "svmlight": ``fmt`` unless "auto", else from the suffix; or DataError."""
    if fmt not in FORMATS:
        raise DataError(f"unknown format {fmt!r}: one of {', '.join(FORMATS)}")
    if fmt != "auto":
        return fmt
    suffix = os.path.splitext(path)[1].lower()
    if suffix == ".npy":
        return "npy"
    if suffix in CSV_SUFFIXES:
        return "csv"
    if suffix in SVMLIGHT_SUFFIXES:
        return "svmlight"
    raise DataError(f"{path}: unsupported file type {suffix or '(no suffix)'!r}: "
                    f"give a .csv file with a header row, a .npy array, or an svmlight file "
                    f"(.svm, .svmlight, .libsvm; or --format svmlight)")


def _short_list(names, limit=8):
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")


# -- CSV ----------------------------------------------------------------------------------------------

def read_header(path, delimiter):
    """The column names of the CSV's first row."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            header = next(csv.reader(fh, delimiter=delimiter), None)
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a text file (cannot decode it as UTF-8)") from None
    except csv.Error as exc:
        raise DataError(f"{path}: line 1: {exc}") from None
    if not header or all(not h.strip() for h in header):
        raise DataError(f"{path}: the file is empty (a header row naming the columns is needed)")
    names = [h.strip() for h in header]
    if any(not n for n in names):
        raise DataError(f"{path}: line 1: column {names.index('') + 1} has no name "
                        f"(the first row must name every column)")
    seen = set()
    for n in names:
        if n in seen:
            raise DataError(f"{path}: line 1: the column name {n!r} appears twice")
        seen.add(n)
    if all(_is_number(n) for n in names):
        raise DataError(f"{path}: line 1 holds numbers ({_short_list(names, 3)}), not column "
                        f"names: the first row must name the columns")
    return names


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def _find_bad_cell(path, delimiter, names, columns, numeric=True):
    """A one-line description of the first cell in ``columns`` that is empty or not a number,
    or of the first line the csv module cannot read (a NUL byte, a cell over its field limit)."""
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        try:
            next(reader, None)
            for line, row in enumerate(reader, start=2):
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue
                if len(row) != len(names):
                    return (f"line {line} has {len(row)} field{'s' if len(row) != 1 else ''}, "
                            f"the header has {len(names)}")
                for j in columns:
                    cell = row[j].strip()
                    if not cell:
                        return (f"line {line}, column {names[j]!r}: empty value "
                                f"(missing values are not supported; fill or drop them first)")
                    if numeric and not _is_number(cell):
                        return f"line {line}, column {names[j]!r}: {cell[:40]!r} is not a number"
        except csv.Error as exc:
            return f"line {reader.line_num}: {exc}"
    return None


def _loadtxt(path, delimiter, names, columns, dtype):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")       # "input contained no data": checked below
            values = np.loadtxt(path, delimiter=delimiter, skiprows=1, usecols=columns,
                                dtype=dtype, ndmin=2, quotechar='"', encoding="utf-8-sig")
    except ValueError as exc:
        where = _find_bad_cell(path, delimiter, names, columns)
        raise DataError(f"{path}: {where or str(exc).splitlines()[0]}") from None
    return values


def read_csv(path, target=None, dtype=np.float64, features=None):
    """A :class:`Table` from a CSV with a header row.

    ``target``: the name of the target column (None: no target). ``features``:
    the names of the feature columns, in order (None: every other column);
    a prediction file may have more columns, which are ignored.
    """
    delimiter = CSV_SUFFIXES[os.path.splitext(path)[1].lower()]
    names = read_header(path, delimiter)
    if target is not None and target not in names:
        hint = ""
        if target.lstrip("-").isdigit():
            hint = " (a CSV's target is a column name, not an index)"
        raise DataError(f"{path}: no column named {target!r}{hint}; the columns are "
                        f"{_short_list(names)}")
    if features is None:
        features = [n for n in names if n != target]
    missing = [f for f in features if f not in names]
    if missing:
        raise DataError(f"{path}: missing column(s) {_short_list(missing)} that the model was "
                        f"trained on")
    if not features:
        raise DataError(f"{path}: no feature columns besides the target {target!r}")
    cols = [names.index(f) for f in features]
    X = _loadtxt(path, delimiter, names, cols, dtype)
    if X.shape[0] == 0:
        raise DataError(f"{path}: no data rows below the header")
    y = None
    if target is not None:
        t = names.index(target)
        raw = _loadtxt(path, delimiter, names, [t], str)[:, 0]
        raw = np.char.strip(raw)
        if np.any(raw == ""):
            where = _find_bad_cell(path, delimiter, names, [t], numeric=False)
            raise DataError(f"{path}: {where or f'the target column {target!r} has empty values'}")
        try:
            y = raw.astype(np.float64)
        except ValueError:
            y = raw                              # text labels: fine for a classifier
    return Table(X, y, list(features), target, "csv", len(names))


# -- .npy ----------------------------------------------------------------------------------------------

def open_npy(path):
    """The 2-D numeric array in ``path``, memory-mapped (read-only)."""
    with open(path, "rb") as fh:
        magic = fh.read(6)
    if magic != b"\x93NUMPY":
        raise DataError(f"{path}: not a .npy file (it lacks the .npy header; save arrays with "
                        f"numpy.save)")
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as exc:
        msg = str(exc).splitlines()[0] if str(exc) else "unreadable"
        if "pickle" in msg.lower() or "object" in msg.lower():
            raise DataError(f"{path}: holds Python objects (a pickled array), which fastgd does not "
                            f"load; save a numeric array") from None
        raise DataError(f"{path}: not a valid .npy file ({msg})") from None
    except (OSError, EOFError) as exc:
        raise DataError(f"{path}: not a valid .npy file ({exc})") from None
    if not isinstance(arr, np.ndarray):
        raise DataError(f"{path}: not a single .npy array")
    if arr.dtype.names is not None:
        raise DataError(f"{path}: a structured array ({arr.dtype}); save a plain 2-D numeric array")
    if arr.dtype.kind not in "biuf":
        raise DataError(f"{path}: non-numeric data (dtype {arr.dtype}); a 2-D array of numbers "
                        f"is needed")
    if arr.ndim != 2:
        raise DataError(f"{path}: a {arr.ndim}-D array of shape {arr.shape}; a 2-D array "
                        f"(rows x columns) is needed")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise DataError(f"{path}: an empty array of shape {arr.shape}")
    return arr


def parse_index(path, target, n_columns):
    """The column index ``target`` (a string such as "0" or "-1") of a .npy file."""
    try:
        t = int(target)
    except (TypeError, ValueError):
        raise DataError(f"{path}: a .npy file has no column names: give --target as a column "
                        f"index (0 to {n_columns - 1}, or -1 for the last), not {target!r}") from None
    if not -n_columns <= t < n_columns:
        raise DataError(f"{path}: column index {t} is out of range for {n_columns} columns")
    return t % n_columns


def read_npy(path, target=None, n_features=None, dtype=None):
    """A :class:`Table` from a .npy array, memory-mapped when possible.

    ``target``: the target column index (None: no target). For prediction,
    ``n_features``: the features the model expects; a file with one more
    column has its ``target`` column dropped.
    """
    arr = open_npy(path)
    n, c = arr.shape
    note = ""
    if target is not None and (n_features is None or c == n_features + 1):
        t = parse_index(path, target, c)
        if c < 2:
            raise DataError(f"{path}: only one column: nothing is left for the features")
        y = np.asarray(arr[:, t])
        if t == c - 1:
            X = arr[:, :-1]
        elif t == 0:
            X = arr[:, 1:]
        else:
            X = np.delete(arr, t, axis=1)
            note = (f"the target is column {t}, in the middle: the features were copied into memory "
                    f"(put the target first or last to stream a large file)")
        names = [f"column {j}" for j in range(c) if j != t]
    else:
        if n_features is not None and c != n_features:
            raise DataError(f"{path}: {c} columns, but the model expects {n_features} features"
                            + (f" (or {n_features + 1} with the target column)"
                               if target is not None else ""))
        t, y, X = None, None, arr
        names = [f"column {j}" for j in range(c)]
    want = dtype or (X.dtype if X.dtype in (np.float32, np.float64) else np.float64)
    if X.dtype != want:
        X = np.asarray(X, dtype=want)
        note = note or f"the {arr.dtype} array was converted to {np.dtype(want).name} in memory"
    return Table(X, y, names, t, "npy", c, note)


def read_svmlight(path, dtype=None, n_features=None, zero_based=None):
    """An svmlight/libsvm file as a Table: X a scipy.sparse CSR matrix, y the labels.

    Read by ``sklearn.datasets.load_svmlight_file``. ``zero_based`` None
    (fit): the file's numbering is guessed as scikit-learn does, one-based
    (libsvm's convention) unless some index is 0, and recorded in
    :attr:`Table.zero_based`; ``predict`` passes the model's, so a file
    whose smallest index happens to be 1 is not shifted. ``n_features``:
    the model's; a file naming a larger index is refused.
    """
    from sklearn.datasets import load_svmlight_file
    if n_features is not None and zero_based is False:
        n_features += 1                      # column 0 of a one-based file, dropped below
    try:
        X, y = load_svmlight_file(path, n_features=n_features, dtype=dtype or np.float64,
                                  zero_based=True)
    except (ValueError, RuntimeError, UnicodeDecodeError) as exc:
        text = " ".join(str(exc).split()) or type(exc).__name__
        raise DataError(f"{path}: not a valid svmlight/libsvm file ({text})") from None
    if X.shape[0] < 1:
        raise DataError(f"{path}: no rows")
    if zero_based is None:
        zero_based = bool(X.nnz == 0 or X.indices.min() == 0)
    if not zero_based:
        if X.nnz and X.indices.min() == 0:
            raise DataError(f"{path}: feature index 0 in a file of the model's one-based numbering")
        import scipy.sparse as sp
        X.indices -= 1                       # the reader's own arrays: no copy
        X = sp.csr_matrix((X.data, X.indices, X.indptr), shape=(X.shape[0], X.shape[1] - 1))
    if X.shape[1] < 1:
        raise DataError(f"{path}: no features")
    return Table(X, y, [], "label", "svmlight", X.shape[1], zero_based=zero_based)


def read_table(path, target=None, dtype=None, features=None, n_features=None, fmt="auto",
               zero_based=None):
    """Read a CSV, .npy or svmlight file (by suffix, or ``fmt``) into a :class:`Table`;
    DataError on any problem."""
    path = os.fspath(path)
    kind = file_kind(path, fmt)
    _check_file(path)
    if kind == "svmlight":
        return read_svmlight(path, dtype, n_features, zero_based)
    if kind == "npy":
        return read_npy(path, target, n_features=n_features, dtype=dtype)
    try:
        return read_csv(path, target, dtype=dtype or np.float64, features=features)
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a text file (cannot decode it as UTF-8)") from None


__all__ = ["DataError", "Table", "read_table", "read_csv", "read_npy", "read_svmlight",
           "file_kind"]
