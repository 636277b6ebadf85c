"""Fuzzing the boundary where outside state comes in (issue 12): mutated state dicts and
model files never crash the process, hang, or silently change what a model computes.

Hypothesis draws mutations of real artefacts: the state dicts of every optimizer of
``fastgd.OPTIMIZERS`` and the model files of every estimator (sizes, dtypes, shapes,
values such as NaN, inf, negative and huge numbers, missing and extra entries, edits
anywhere in the JSON entry, truncation and bit flips of the archive). Each case runs in
a worker process (``tests/fuzz_worker.py``), so that a segfault or a hang shows as a
dead or silent worker (which is then restarted) instead of taking pytest down; the
worker checks every outcome:

* a state dict is refused with TypeError/ValueError and changes nothing, or it is
  loaded and the next step is the one the NumPy reference computes from it;
* a model file that kept the original's digest (``raw``) is refused with
  ModelFileError, or it loads and predicts exactly what the original predicted;
* a model file whose digest was recomputed (``sealed``: a deliberate edit) is refused
  with ModelFileError, or it loads as a consistent model (its fitted attributes are its
  parameter vector, its predictions the reference forward pass of it) and partial_fit
  ends in a result or a ValueError/TypeError.

Every test also asserts that both outcomes occurred, so none can pass vacuously. The
examples are derandomized (the same cases on every run) and bounded (``max_examples``).
"""

import copy
import json
import os
import pickle
import select
import struct
import subprocess
import sys
import warnings
import zipfile
from collections import Counter

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fastgd import schedules as S
from fastgd.models import persist

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fuzz_worker.py")
READY_TIMEOUT = 900   # a cold start compiles every kernel the cases use
CASE_TIMEOUT = 120    # a case takes milliseconds (nothing compiles after the warm-up): a hang


def fuzz_settings(n):
    return settings(max_examples=n, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck), print_blob=False)


# -- the worker process ---------------------------------------------------------------------------

class Worker:
    """One worker process, started on first use and restarted after it died or hung."""

    def __init__(self, setup, log, timeout=CASE_TIMEOUT):
        self.setup, self.log, self.timeout, self.proc = setup, log, timeout, None
        self.starts = 0
        self.artefacts = None

    def start(self):
        self.starts += 1
        self.proc = subprocess.Popen([sys.executable, WORKER], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.log, bufsize=0)
        self._send(self.setup)
        artefacts = self._receive(READY_TIMEOUT)
        if self.artefacts is None:    # a restarted worker rebuilds the same; keep the first
            self.artefacts = artefacts

    def _send(self, obj):
        data = pickle.dumps(obj)
        self.proc.stdin.write(struct.pack("<Q", len(data)) + data)
        self.proc.stdin.flush()

    def _read(self, n, timeout):
        chunks, left = [], n
        while left:
            ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
            if not ready:
                raise TimeoutError
            chunk = os.read(self.proc.stdout.fileno(), left)
            if not chunk:
                raise EOFError
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def _receive(self, timeout):
        (n,) = struct.unpack("<Q", self._read(8, timeout))
        return pickle.loads(self._read(n, timeout))

    def run(self, case):
        if self.proc is None or self.proc.poll() is not None:
            self.start()
        try:
            self._send(case)
            return self._receive(self.timeout)
        except TimeoutError:
            self.stop()
            return {"outcome": "hang", "error": f"no answer within {self.timeout} s (a hang)"}
        except (EOFError, BrokenPipeError):
            code = self.proc.wait()
            self.proc = None
            return {"outcome": "crash", "error": f"the worker died (exit status {code})"}

    def stop(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


def _check(result, seen, what):
    seen[result["outcome"]] += 1
    assert result["error"] is None, f"{what}: {result['outcome']}: {result['error']}"


@pytest.fixture(scope="module")
def worker(tmp_path_factory):
    """The worker, started: it built the base artefacts (``worker.artefacts``)."""
    tmp = tmp_path_factory.mktemp("fuzz")
    log = open(tmp / "worker.stderr", "w+b")
    w = Worker({"dir": str(tmp)}, log)
    w.start()
    yield w
    w.stop()
    log.close()


@pytest.fixture(scope="module")
def bases(worker):
    """{estimator: path, data, the file's bytes and its entries}."""
    out = {}
    for name, base in worker.artefacts["bases"].items():
        with open(base["path"], "rb") as fh:
            raw = fh.read()
        text, digest, arrays = _entries(base["path"])
        out[name] = dict(base, bytes=raw, text=text, digest=digest, arrays=arrays)
    return out


@pytest.fixture(scope="module")
def state_dicts(worker):
    """{(rule, setting, dtype): (constructor kwargs, state dict after 4 steps)}."""
    return worker.artefacts["state_dicts"]


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    return str(tmp_path_factory.mktemp("fuzz-cases") / "case.npz")


def _entries(path):
    with np.load(path, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    return str(arrays.pop(persist.META_KEY)), str(arrays.pop(persist.DIGEST_KEY)), arrays


# -- values and mutations -------------------------------------------------------------------------

def _deep(n):
    v = []
    for _ in range(n):
        v = [v]
    return v


JSON_VALUES = [
    None, True, False, 0, -1, 1, 3, 2 ** 31, 2 ** 64, 10 ** 30, 0.0, -0.0, 0.5, -1.5, 1e-320,
    1e300, -1e300, float("nan"), float("inf"), float("-inf"), "", "x", "adam", "relu", "PCG64",
    [], [1, 2], {}, {"a": 1}, _deep(40),
    {"__array__": "optimizer/params"}, {"__array__": "no/such/array"}, {"__tuple__": [1, 2]},
    {"__dict__": {"x": 1}}, {"__tuple__": 5}, {"__schedule__": 0},
    {"__schedule__": {"class": "CosineWarmRestarts", "args": {"lr": 0.1, "t_0": 3, "t_mult": 0},
                      "warmup": None, "state": None}},
    {"__schedule__": {"class": "Constant", "args": {"lr": -0.1}, "warmup": None, "state": None}},
    {"__schedule__": {"class": "Constant", "args": {"lr": 0.1}, "warmup": None, "state": None}},
    {"__schedule__": {"class": "StepDecay", "args": {"lr": 0.1, "step_size": 2 ** 60},
                      "warmup": {"steps": 3, "start_factor": 2.0}, "state": None}},
]
FLOATS = [float("nan"), float("inf"), float("-inf"), -1.0, -1e-30, 0.0, -0.0, 1e300, 1e-310,
          3e38, 0.5, 2.0]


def _json_paths(node, path=()):
    """Every path into the JSON tree (dict keys and list indices)."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield path + (k,)
            yield from _json_paths(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield path + (i,)
            yield from _json_paths(v, path + (i,))


def _at(node, path):
    for k in path:
        node = node[k]
    return node


def _variants(value):
    """Values that look like ``value`` (a perturbed number, an edited string, ...)."""
    if isinstance(value, bool):
        return [not value, int(value)]
    if isinstance(value, (int, float)):
        return [value + 1, value - 1, -value, 2 * value, value * 1e300, float(value)]
    if isinstance(value, str):
        return [value + "x", value.upper(), value[:-1]]
    if isinstance(value, list):
        return [value[:-1], value + value[-1:], list(reversed(value))]
    if isinstance(value, dict):
        return [{k: v for k, v in list(value.items())[1:]}, dict(value, extra=1)]
    return []


def draw_json_edit(data, meta):
    """Replace, delete or add one entry anywhere in the JSON entry (in place); or, as often,
    perturb one number (the edits most likely to give a valid, different model)."""
    paths = list(_json_paths(meta))
    numbers = [p for p in paths if isinstance(_at(meta, p), (int, float))
               and not isinstance(_at(meta, p), bool)]
    if numbers and data.draw(st.booleans(), label="a number"):
        path = data.draw(st.sampled_from(numbers), label="json path")
        op = "variant"
    else:
        path = data.draw(st.sampled_from(paths), label="json path")
        op = data.draw(st.sampled_from(["replace", "variant", "delete", "add"]), label="json op")
    parent, key = _at(meta, path[:-1]), path[-1]
    if op == "delete":
        del parent[key]
    elif op == "add":
        target = parent if isinstance(parent, dict) else meta
        target[data.draw(st.sampled_from(["extra", "__array__", "version", "x_"]))] = \
            copy.deepcopy(data.draw(st.sampled_from(JSON_VALUES)))
    else:
        pool = _variants(parent[key]) if op == "variant" else []
        parent[key] = copy.deepcopy(data.draw(st.sampled_from(pool or JSON_VALUES),
                                              label="json value"))
    return f"json {op} at {'/'.join(map(str, path))}"


def draw_array(data, a):
    """A mutation of the array ``a``: size, dtype, shape or one value."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")          # casts that overflow or drop imaginary parts
        return _draw_array(data, a)


def _draw_array(data, a):
    op = data.draw(st.sampled_from(["size", "dtype", "shape", "value"]), label="array op")
    if op == "size":
        n = data.draw(st.sampled_from([0, 1, a.size - 1, a.size + 1, 2 * a.size]))
        flat = a.ravel()
        return np.resize(flat, max(n, 0)) if flat.size else np.zeros(max(n, 0), a.dtype), op
    if op == "dtype":
        to = data.draw(st.sampled_from([np.float32, np.float64, np.int64, np.int32, np.bool_,
                                        np.float16, np.complex128, "U3"]))
        try:
            return a.astype(to), op
        except (TypeError, ValueError):
            return a.astype("U3"), op
    if op == "shape":
        shape = data.draw(st.sampled_from([(-1, 1), (1, -1), (-1,), ()]))
        if shape == ():
            return (a.ravel()[:1].reshape(()) if a.size else np.zeros((), a.dtype)), op
        return a.reshape(shape), op
    b = np.array(a, copy=True)
    if b.size == 0:
        return b, "value (empty)"
    i = data.draw(st.integers(0, b.size - 1), label="index")
    if b.dtype.kind == "f":
        b.flat[i] = data.draw(st.sampled_from(FLOATS), label="float")
    elif b.dtype.kind == "U":
        b.flat[i] = data.draw(st.sampled_from(["", "zzz", str(b.flat[0]), "\u2603"]))
    elif b.dtype.kind in "iu":
        info = np.iinfo(b.dtype)
        b.flat[i] = data.draw(st.sampled_from(
            [v for v in (-1, 0, 99, int(info.max)) if info.min <= v <= info.max]))
    else:
        b.flat[i] = not b.flat[i]
    return b, op


def draw_entry_mutation(data, base):
    """(meta text, arrays, description) after 1 to 3 edits of the entries of a model file."""
    meta = json.loads(base["text"])
    arrays = dict(base["arrays"])
    done = []
    for _ in range(data.draw(st.sampled_from([1, 1, 1, 2, 3]), label="edits")):
        kind = data.draw(st.sampled_from(["json", "json", "array", "delete", "add"]))
        if kind == "json":
            done.append(draw_json_edit(data, meta))
            continue
        key = data.draw(st.sampled_from(sorted(arrays)), label="array") if arrays else None
        if kind == "delete" and key is not None:
            del arrays[key]
            done.append(f"delete array {key}")
        elif kind == "add" or key is None:
            name = data.draw(st.sampled_from(["extra", "optimizer/state/extra", "attr/coef_/9"]))
            arrays[name] = np.ones(3)
            done.append(f"add array {name}")
        else:
            arrays[key], op = draw_array(data, arrays[key])
            done.append(f"array {op} of {key}")
    return json.dumps(meta), arrays, "; ".join(done)


# -- the tests ------------------------------------------------------------------------------------

def _mutate_state_dict(data, sd):
    done = []
    for _ in range(data.draw(st.integers(1, 2), label="edits")):
        where = data.draw(st.sampled_from(["state", "state", "top", "hyperparams", "lr"]))
        if not isinstance(sd.get("hyperparams"), dict) and where in ("hyperparams", "lr") \
                or not (isinstance(sd.get("state"), dict) and sd["state"]) and where == "state":
            where = "top"     # an earlier edit replaced or removed it (or emptied it: {})
        if where == "state":
            key = data.draw(st.sampled_from(sorted(sd["state"])), label="state key")
            value = sd["state"][key]
            if isinstance(value, np.ndarray):
                sd["state"][key], op = draw_array(data, value)
            else:
                op = "scalar"
                sd["state"][key] = copy.deepcopy(data.draw(st.sampled_from(
                    FLOATS + [2, "0.5", None, True, np.float64(0.5), [0.5], np.zeros(2)])))
            done.append(f"{op} of state[{key}]")
        elif where == "top":
            key = data.draw(st.sampled_from(sorted(sd) + ["extra"]), label="key")
            op = data.draw(st.sampled_from(["delete", "replace"]))
            if op == "delete" and key in sd:
                del sd[key]
            else:
                sd[key] = copy.deepcopy(data.draw(st.sampled_from(
                    [-1, 0, 1, 2 ** 53 + 1, 2 ** 63, 1.5, True, False, "no", None, np.int64(3),
                     np.bool_(True), "Adam", "float32", 8, {}, {"x": np.ones(7)}])))
            done.append(f"{op} {key}")
        elif where == "hyperparams":
            key = data.draw(st.sampled_from(sorted(sd["hyperparams"]) + ["extra"]))
            sd["hyperparams"][key] = copy.deepcopy(data.draw(st.sampled_from(
                [-1.0, 0.0, float("nan"), float("inf"), 1e300, "x", None, True, (0.9,),
                 (2.0, 0.5), (0.5, 0.5), 0.3, 5])))
            done.append(f"hyperparams[{key}]")
        else:
            lr = data.draw(st.sampled_from(["restarts0", "negative", "short", "attr", "plateau",
                                            "plateau_state", "valid", "not_a_schedule"]))
            sd["hyperparams"]["lr"] = _tampered_schedule(lr)
            done.append(f"lr {lr}")
    return "; ".join(done)


def _tampered_schedule(kind):
    if kind == "restarts0":          # the hang of the issue: a restart multiplier of 0
        s = S.CosineWarmRestarts(0.1, t_0=3)
        s.spec[6] = 0.0
    elif kind == "negative":         # gradient ascent
        s = S.Constant(0.1)
        s.spec[1] = -0.1
    elif kind == "short":            # read past the end of the spec
        s = S.Constant(0.1)
        s.spec = s.spec[:3]
    elif kind == "attr":             # attributes that disagree with the spec
        s = S.StepDecay(0.1, step_size=4)
        s.step_size = 0
    elif kind == "plateau":
        s = S.ReduceLROnPlateau(0.1)
        s.factor = 2.0
    elif kind == "plateau_state":
        s = S.ReduceLROnPlateau(0.1)
        s.num_bad_epochs = -1
    elif kind == "valid":
        s = S.Polynomial(0.1, total_steps=10)
    else:
        s = np.float64(0.1)
    return s


def test_mutated_state_dicts(worker, state_dicts):
    """Every rule's state dict (float64 and float32, lr a number or a schedule), 1 or 2
    edits: arrays resized, retyped, reshaped, given NaN/inf/negative/huge values; scalars,
    counters, flags and hyperparameters replaced; entries removed or added; schedules
    whose spec hangs, reads out of bounds or is negative, or disagrees with their
    arguments."""
    seen = Counter()
    keys = sorted(state_dicts)

    @fuzz_settings(400)
    @given(st.data())
    def run(data):
        name, _, dtype = key = data.draw(st.sampled_from(keys), label="rule")
        kwargs, base = state_dicts[key]
        sd = pickle.loads(pickle.dumps(base))
        what = _mutate_state_dict(data, sd)
        case = {"kind": "state", "rule": name, "kwargs": kwargs, "dtype": dtype,
                "size": base["size"], "sd": sd}
        _check(worker.run(case), seen, f"{name} {dtype}: {what}")

    run()
    assert seen["refused"] > 50 and seen["loaded"] > 20, seen


@pytest.mark.parametrize("mode", ["raw", "sealed"])
def test_mutated_model_file_entries(worker, bases, scratch, mode):
    """Edits of the JSON entry and of the arrays; ``raw`` keeps the original digest,
    ``sealed`` recomputes it (an edit made on purpose)."""
    seen = Counter()
    names = sorted(bases)

    @fuzz_settings(300 if mode == "sealed" else 100)
    @given(st.data())
    def run(data):
        name = data.draw(st.sampled_from(names), label="estimator")
        base = bases[name]
        text, arrays, what = draw_entry_mutation(data, base)
        if mode == "sealed":
            persist._write(scratch, text, arrays)
        else:
            with open(scratch, "wb") as fh:
                np.savez(fh, **{persist.META_KEY: np.array(text),
                                persist.DIGEST_KEY: np.array(base["digest"])}, **arrays)
        case = {"kind": "model", "base": name, "path": scratch, "mode": mode}
        _check(worker.run(case), seen, f"{name} ({mode}): {what}")

    run()
    assert seen["refused"] > 20, seen
    if mode == "sealed":
        assert seen["loaded"] > 20, seen


def _offsets(raw):
    """Where the archive's structures start: local headers, .npy headers, the directory."""
    import io
    with zipfile.ZipFile(io.BytesIO(raw)) as zf:
        starts = [info.header_offset for info in zf.infolist()]
        starts += [info.header_offset + 30 + len(info.filename) for info in zf.infolist()]
    return starts + [raw.rfind(b"PK\x01\x02"), raw.rfind(b"PK\x05\x06")]


def test_damaged_model_file_bytes(worker, bases, scratch):
    """Truncations, bit flips, zeroed runs and inserted bytes anywhere in the archive,
    most near its structures: refused, or (a byte nothing reads) predicting as before."""
    seen = Counter()
    names = sorted(bases)
    offsets = {k: _offsets(v["bytes"]) for k, v in bases.items()}

    @fuzz_settings(200)
    @given(st.data())
    def run(data):
        name = data.draw(st.sampled_from(names), label="estimator")
        raw = bytearray(bases[name]["bytes"])
        near = st.builds(lambda a, d: min(len(raw) - 1, a + d),
                         st.sampled_from(offsets[name]), st.integers(0, 90))
        pos = data.draw(st.one_of(near, st.integers(0, len(raw) - 1)), label="position")
        op = data.draw(st.sampled_from(["truncate", "flip", "flip", "zero", "insert"]))
        if op == "truncate":
            raw = raw[:pos]
        elif op == "flip":
            raw[pos] ^= 1 << data.draw(st.integers(0, 7), label="bit")
        elif op == "zero":
            raw[pos:pos + data.draw(st.integers(1, 16))] = bytes(16)[:len(raw[pos:pos + 16])]
        else:
            raw[pos:pos] = b"\xff" * data.draw(st.integers(1, 8))
        with open(scratch, "wb") as fh:
            fh.write(raw)
        case = {"kind": "model", "base": name, "path": scratch, "mode": "raw"}
        _check(worker.run(case), seen, f"{name}: {op} at byte {pos}")

    run()
    assert seen["refused"] > 50, seen


def test_the_worker_sees_crashes_and_hangs(tmp_path):
    """The harness itself: a case that kills the worker or never answers is reported as
    such, and the next case runs in a fresh worker."""
    log = open(tmp_path / "stderr", "w+b")
    w = Worker({"dir": str(tmp_path), "build": False}, log, timeout=3)
    try:
        assert w.run({"kind": "exit"})["outcome"] == "crash"
        assert w.run({"kind": "sleep"})["outcome"] == "hang"
        result = w.run({"kind": "no such kind"})             # an exception in the worker
        assert result["outcome"] == "error" and "KeyError" in result["error"] and w.starts == 3
    finally:
        w.stop()
        log.close()
