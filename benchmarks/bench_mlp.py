"""asv: MLPClassifier epochs on 200,000 x 100 float32 (Adam, batch 256, shuffled).

As the comparison section (``fastgd/bench/mlp.py``): one hidden layer of 64
ReLU units, and three of 256 where the matrix products dominate. ``setup``
fits once on a slice so compile time never pollutes a timing; ``track_``
records the training loss and the held-out accuracy after the timed
epochs, so a faster but worse change shows; ``peakmem_`` shows that a fit
holds X once (float32 is never copied up) plus the network's buffers.
"""

from fastgd.bench.mlp import DEEP, EPOCHS, SMALL, data, fastgd_fit

NETWORKS = {"64": SMALL, "256x256x256": DEEP}


class MLPEpoch:
    params = [list(NETWORKS)]
    param_names = ["hidden"]
    timeout = 900

    def setup(self, hidden):
        self.X, self.y, self.X_test, self.y_test = data()
        fastgd_fit(self.X[:1000], self.y[:1000], NETWORKS[hidden], 1)      # compile

    def time_one_epoch(self, hidden):
        fastgd_fit(self.X, self.y, NETWORKS[hidden], 1)

    def peakmem_one_epoch(self, hidden):
        fastgd_fit(self.X, self.y, NETWORKS[hidden], 1)

    def track_loss_after_epochs(self, hidden):
        model, _ = fastgd_fit(self.X, self.y, NETWORKS[hidden], EPOCHS[NETWORKS[hidden]])
        return float(model.loss_curve_[-1])

    track_loss_after_epochs.unit = "log-loss"

    def track_accuracy_after_epochs(self, hidden):
        model, _ = fastgd_fit(self.X, self.y, NETWORKS[hidden], EPOCHS[NETWORKS[hidden]])
        return float(model.score(self.X_test, self.y_test))

    track_accuracy_after_epochs.unit = "accuracy"


class MLPPredict:
    """Forward pass over 200,000 rows (parallel over blocks of rows)."""

    params = [list(NETWORKS)]
    param_names = ["hidden"]
    timeout = 600

    def setup(self, hidden):
        self.X, self.y, _, _ = data()
        self.model, _ = fastgd_fit(self.X[:1000], self.y[:1000], NETWORKS[hidden], 1)
        self.model.predict_proba(self.X[:10])

    def time_predict_proba(self, hidden):
        self.model.predict_proba(self.X)
