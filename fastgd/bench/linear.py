"""Section "linear": LogisticRegression with Adam, batch 256, shuffled, on 1,000,000 x 100 float32.

Rows:

* fastgd, one epoch (the engine's own epoch time), with shuffle "full",
  "blocks" and "none": the difference between "full" and "none" is the cost
  of gathering shuffled rows;
* ``fit(X, y)`` with one epoch, as users call it: what validation, label
  encoding and set-up add to the epoch;
* the same training loop in PyTorch on the CPU (``torch.randperm``, index a
  batch, ``nn.Linear``, ``BCEWithLogitsLoss``, ``torch.optim.Adam``), with
  the faster of 1 and 2 torch threads (for 256-row batches one thread wins:
  the second one's synchronisation costs more than it computes);
* one epoch of scikit-learn's ``SGDClassifier(loss="log_loss")`` with its
  default ``alpha`` and ``"optimal"`` rate (plain SGD, batch 1; each
  ``partial_fit`` converts float32 X to float64 first, included);
* a read probe: X read once, the memory-bandwidth floor of an epoch;
* a gather probe: every row of X copied once in a random order, by two
  threads (the shuffled gather alone, without training): the floor of a
  shuffled epoch on this machine, bound by memory latency, not bandwidth.

After the same number of epochs (``EPOCHS``) each model's mean log-loss on
the training set is reported, so a faster-but-worse result shows.
"""

import time

import numpy as np

from .harness import Row, optional, section, torch_epochs
from .losses import read_probe

N, D, BATCH, EPOCHS = 1_000_000, 100, 256, 3
LR, ALPHA = 1e-3, 1e-6


def data(n=N, d=D, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d), dtype=np.float32)
    coef = rng.standard_normal(d).astype(np.float32) / np.sqrt(d)
    y = (X @ coef + 0.3 * rng.standard_normal(n, dtype=np.float32) > 0).astype(np.float32)
    return X, y


def gather_probe(X, y, seed=0):
    """Seconds to copy every row of X once in a random order, two threads each half."""
    from concurrent.futures import ThreadPoolExecutor
    from ..engine.data import DEFAULT_BLOCK_BYTES, block_rows_for, gather_rows, row_order
    order = row_order(None, X.shape[0], "full", np.random.default_rng(seed), 0)
    block = block_rows_for(X, 1, DEFAULT_BLOCK_BYTES)
    none = np.empty(0, dtype=X.dtype)

    def copy_half(h):   # blocks h, h + 2, ...: as the trainer's two threads take them
        xb, yb = np.empty((block, X.shape[1]), dtype=X.dtype), np.empty(block, dtype=y.dtype)
        for a in range(h * block, order.size, 2 * block):
            idx = order[a:a + block]
            gather_rows(X, y, none, idx, xb[:idx.size], yb[:idx.size], none)

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(copy_half, (0, 1)))          # compile and warm up
        t0 = time.perf_counter()
        list(pool.map(copy_half, (0, 1)))
        return time.perf_counter() - t0


def log_loss(coef, intercept, X, y):
    """Mean log-loss of a linear model (float64), for comparing implementations."""
    from .. import losses
    w = np.r_[np.ravel(coef), np.ravel(intercept)].astype(np.float32)
    return losses.logistic(w, X, y)[0]


def fastgd_fit(X, y, epochs, shuffle=True, seed=0):
    """(model, per-epoch seconds) of fastgd's LogisticRegression."""
    import fastgd
    seconds = []
    model = fastgd.LogisticRegression(optimizer="adam", lr=LR, alpha=ALPHA, batch_size=BATCH,
                                      max_epochs=epochs, tol=None, shuffle=shuffle,
                                      random_state=seed,
                                      callback=lambda info: seconds.append(info.seconds))
    model.fit(X, y)
    return model, seconds


def torch_fit(X, y, epochs, seed=0):
    """(loss, per-epoch seconds) of the same loop in PyTorch."""
    torch = optional("torch")
    torch.manual_seed(seed)
    model = torch.nn.Linear(X.shape[1], 1)
    torch.nn.init.zeros_(model.weight)
    torch.nn.init.zeros_(model.bias)
    # Adam's weight_decay is L2 added to the gradient, as alpha * w in fastgd
    opt = torch.optim.Adam(model.parameters(), lr=LR, weight_decay=ALPHA)
    seconds = torch_epochs(torch, model, opt, X, y, BATCH, epochs)
    with torch.no_grad():
        coef, intercept = model.weight.numpy().copy(), model.bias.numpy().copy()
    return log_loss(coef, intercept, X, y), seconds


def sklearn_fit(X, y, epochs, seed=0):
    """(loss, per-epoch seconds) of scikit-learn's SGDClassifier, one partial_fit per epoch."""
    from sklearn.linear_model import SGDClassifier
    # its default alpha: its "optimal" rate 1 / (alpha (t + t0)) is tuned for it
    clf = SGDClassifier(loss="log_loss", shuffle=True, random_state=seed)
    seconds = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        clf.partial_fit(X, y, classes=[0.0, 1.0])
        seconds.append(time.perf_counter() - t0)
    return log_loss(clf.coef_, clf.intercept_, X, y), seconds


@section("linear")
def linear_rows(n=N, epochs=EPOCHS):
    X, y = data(n)
    task = f"LogReg Adam b{BATCH} shuffled, 1 epoch {n // 10**6}M x {D} f32"
    gb = X.nbytes / 1e9
    read_probe(X)
    t_probe = min(_timed(lambda: read_probe(X)) for _ in range(5))
    t_gather = min(gather_probe(X, y, seed) for seed in range(3))

    fastgd_fit(X[:1000], y[:1000], 1)                       # compile outside the timing
    model, secs = fastgd_fit(X, y, epochs)
    t_fast = min(secs)
    loss_fast = log_loss(model.coef_, model.intercept_, X, y)
    rows = [Row("linear", task, "fastgd", t_fast,
                f"{n / t_fast / 1e6:.1f} M samples/s, {gb / t_fast:.1f} GB/s = "
                f"{t_probe / t_fast:.0%} of the read limit, {t_gather / t_fast:.0%} of the "
                f"gather limit; loss after {epochs} epochs {loss_fast:.5f}")]
    # fit(X, y) as users call it: validation, label encoding, set-up and one epoch
    t_call = min(_timed(lambda: fastgd_fit(X, y, 1)) for _ in range(3))
    rows.append(Row("linear", task, "fastgd fit(X, y), 1 epoch", t_call,
                    f"the whole call: {t_call / t_fast:.2f}x the epoch alone (validation, "
                    f"labels, set-up)"))
    for mode in ("blocks", "none"):
        _, secs = fastgd_fit(X, y, 2, shuffle=mode)
        rows.append(Row("linear", f"LogReg Adam b{BATCH} shuffle={mode!r}, 1 epoch", "fastgd",
                        min(secs), f"{n / min(secs) / 1e6:.1f} M samples/s; full shuffle costs "
                        f"{t_fast / min(secs):.2f}x"))
    if optional("torch") is not None:
        import torch
        best = None
        for threads in (1, 2):
            torch.set_num_threads(threads)
            _, secs = torch_fit(X[:100_000], y[:100_000], 1)
            if best is None or secs[0] < best[1]:
                best = (threads, secs[0])
        torch.set_num_threads(best[0])
        loss_t, secs = torch_fit(X, y, epochs)
        rows.append(Row("linear", task, f"torch (same loop, {best[0]} thread)", min(secs),
                        f"{n / min(secs) / 1e6:.2f} M samples/s; loss after {epochs} epochs "
                        f"{loss_t:.5f}"))
    else:
        rows.append(Row("linear", task, "torch (not installed)", float("nan")))
    loss_s, secs = sklearn_fit(X, y, epochs)
    rows.append(Row("linear", task, "sklearn SGDClassifier (b1)", min(secs),
                    f"{n / min(secs) / 1e6:.2f} M samples/s; loss after {epochs} epochs "
                    f"{loss_s:.5f}"))
    rows.append(Row("linear", "read X once (probe)", "read probe", t_probe,
                    f"{gb / t_probe:.1f} GB/s"))
    rows.append(Row("linear", "copy X's rows once, shuffled, 2 threads (probe)", "gather probe",
                    t_gather, f"{gb / t_gather:.1f} GB/s, {n / t_gather / 1e6:.1f} M rows/s"))
    for r in rows:
        if r.task == task and r.impl != "fastgd":
            r.ratio = r.seconds / t_fast
    return rows


def _timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0
