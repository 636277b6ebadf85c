"""Section "mlp": MLPClassifier epochs on 200,000 x 100 float32, against scikit-learn and PyTorch.

Two networks, both trained with Adam (lr 1e-3, no L2), batch 256, shuffled
every epoch, binary labels from a random two-layer teacher network:

* ``SMALL``, one hidden layer of 64 ReLU units: the per-batch overheads
  matter. Rows: fastgd; scikit-learn's ``MLPClassifier(solver="adam")`` (one
  ``partial_fit`` per epoch: its input check is inside the timing, about
  1% of it), with NumPy's default BLAS threads and with one BLAS thread
  (fastgd holds BLAS to one thread itself); the same loop in PyTorch on the
  CPU (``torch.randperm``, index a batch, ``Linear-ReLU-Linear``,
  ``BCEWithLogitsLoss``, ``torch.optim.Adam``), with PyTorch's default
  threads and with one thread.
* ``DEEP``, three hidden layers of 256 ReLU units: matrix products dominate.
  Rows: fastgd and the PyTorch loop.

Each row is the fastest of its epochs (fastgd's: the engine's epoch time, as
``verbose`` prints it; ``fit`` adds one finiteness pass over X). After the
same number of epochs each model's accuracy on 20,000 held-out rows is in
the note, so a faster-but-worse result shows. PyTorch initialises its
layers its own way (Kaiming-uniform with a=sqrt(5)); fastgd and
scikit-learn draw Glorot-uniform weights.
"""

import time

import numpy as np

from .harness import Row, optional, section, torch_epochs

N, N_TEST, D, BATCH, LR = 200_000, 20_000, 100, 256, 1e-3
SMALL, DEEP = (64,), (256, 256, 256)
EPOCHS = {SMALL: 3, DEEP: 2}


def data(n=N, n_test=N_TEST, d=D, seed=0):
    """(X, y, X_test, y_test), float32 X and 0/1 labels of a random tanh teacher network."""
    rng = np.random.default_rng(seed)
    W1 = rng.standard_normal((d, 32)) / np.sqrt(d)
    w2 = rng.standard_normal(32) / np.sqrt(32)

    def draw(m):
        X = rng.standard_normal((m, d), dtype=np.float32)
        score = np.tanh(2.0 * (X @ W1)) @ w2 + 0.1 * rng.standard_normal(m)
        return X, (score > 0).astype(np.int64)

    X, y = draw(n)
    X_test, y_test = draw(n_test)
    return X, y, X_test, y_test


def fastgd_fit(X, y, hidden, epochs, seed=0):
    """(model, per-epoch seconds) of fastgd's MLPClassifier."""
    import fastgd
    seconds = []
    model = fastgd.MLPClassifier(hidden, optimizer="adam", lr=LR, alpha=0.0, batch_size=BATCH,
                                 max_epochs=epochs, tol=None, random_state=seed,
                                 callback=lambda info: seconds.append(info.seconds))
    return model.fit(X, y), seconds


def sklearn_fit(X, y, hidden, epochs, blas_threads=None, seed=0):
    """(model, per-epoch seconds) of scikit-learn's MLPClassifier, one partial_fit per epoch."""
    from sklearn.neural_network import MLPClassifier
    from threadpoolctl import threadpool_limits
    model = MLPClassifier(hidden, solver="adam", learning_rate_init=LR, alpha=0.0,
                          batch_size=BATCH, shuffle=True, random_state=seed)
    seconds = []
    with threadpool_limits(blas_threads, user_api="blas"):
        for _ in range(epochs):
            t0 = time.perf_counter()
            model.partial_fit(X, y, classes=[0, 1])
            seconds.append(time.perf_counter() - t0)
    return model, seconds


def torch_fit(X, y, hidden, epochs, threads=None, seed=0):
    """(predict, per-epoch seconds) of the same loop in PyTorch; ``predict(X) -> labels``."""
    torch = optional("torch")
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        torch.manual_seed(seed)
        layers, width = [], X.shape[1]
        for h in hidden:
            layers += [torch.nn.Linear(width, h), torch.nn.ReLU()]
            width = h
        model = torch.nn.Sequential(*layers, torch.nn.Linear(width, 1))
        opt = torch.optim.Adam(model.parameters(), lr=LR)
        seconds = torch_epochs(torch, model, opt, X, y.astype(np.float32), BATCH, epochs)
    finally:
        torch.set_num_threads(before)

    def predict(Xq):
        with torch.no_grad():
            return (model(torch.from_numpy(Xq)).squeeze(1) > 0).numpy().astype(np.int64)

    return predict, seconds


def _task(hidden):
    return f"MLP {'x'.join(map(str, hidden))} Adam b{BATCH}, 1 epoch {N // 1000}k x {D} f32"


def network_rows(X, y, X_test, y_test, hidden, peers):
    """Rows for one network: fastgd, then ``peers`` ("sklearn", "torch", "torch1")."""
    epochs = EPOCHS[hidden]
    task = _task(hidden)
    fastgd_fit(X[:1000], y[:1000], hidden, 1)               # compile outside the timing
    model, secs = fastgd_fit(X, y, hidden, epochs)
    t_fast = min(secs)
    acc_fast = model.score(X_test, y_test)
    rows = [Row("mlp", task, "fastgd", t_fast,
                f"{N / t_fast / 1e6:.2f} M samples/s; held-out accuracy after {epochs} "
                f"epochs {acc_fast:.4f}")]
    for peer in peers:
        if peer.startswith("sklearn"):
            threads = 1 if peer == "sklearn1" else None
            skl, secs = sklearn_fit(X, y, hidden, epochs, threads)
            acc = skl.score(X_test, y_test)
            name = f"sklearn MLPClassifier adam{', 1 BLAS thr' if threads else ''}"
        elif optional("torch") is None:
            rows.append(Row("mlp", task, "torch (not installed)", float("nan")))
            continue
        else:
            threads = 1 if peer == "torch1" else None
            predict, secs = torch_fit(X, y, hidden, epochs, threads)
            acc = float(np.mean(predict(X_test) == y_test))
            n_threads = 1 if threads else optional("torch").get_num_threads()
            name = f"torch (same loop, CPU, {n_threads} thr)"
        rows.append(Row("mlp", task, name, min(secs),
                        f"{N / min(secs) / 1e6:.2f} M samples/s; held-out accuracy after "
                        f"{epochs} epochs {acc:.4f} ({acc - acc_fast:+.4f})",
                        ratio=min(secs) / t_fast))
    return rows


@section("mlp")
def mlp_rows():
    X, y, X_test, y_test = data()
    rows = network_rows(X, y, X_test, y_test, SMALL, ["sklearn", "sklearn1", "torch", "torch1"])
    rows += network_rows(X, y, X_test, y_test, DEEP, ["torch", "torch1"])
    return rows
