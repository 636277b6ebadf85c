"""asv: fastgd.dask on a LocalCluster of 2 worker processes, small data.

The 1,000,000 x 100 comparison with dask-ml is the harness section
(``python benchmarks/compare.py dask``). Here: 5 rounds of each mode on
200,000 x 20 float32 in 4 chunks, the cluster and the data set up (and the
workers' kernels compiled) in ``setup``; ``track_loss`` keeps the objective
reached, so faster-but-worse shows. Skipped when dask or distributed is not
installed.
"""

try:
    import distributed
except ImportError:  # the benchmarks are skipped
    distributed = None

N, D, CHUNKS, ROUNDS = 200_000, 20, 4, 5


class DaskFit:
    params = (["sync", "local"],)
    param_names = ["mode"]
    timeout = 300
    number = 1
    repeat = (1, 5, 60.0)
    warmup_time = 0

    def setup(self, mode):
        if distributed is None:
            raise NotImplementedError("dask[array] and distributed are not installed")
        import fastgd
        from fastgd.bench.dask import make_data
        from fastgd.dask import DataParallel, local_cluster
        self.cluster = local_cluster(n_workers=2, threads_per_worker=1)
        self.client = distributed.Client(self.cluster)
        # generated on the workers, as in the harness section (nothing sent from here)
        self.X, self.y, _ = make_data(self.client, N, D, N // CHUNKS)
        est = fastgd.LogisticRegression(optimizer="adam", lr=0.05, tol=None, random_state=0,
                                        batch_size=None if mode == "sync" else 256)
        self.fit = lambda: DataParallel(est, mode=mode, max_rounds=ROUNDS,
                                        client=self.client).fit(self.X, self.y)
        self.fit()  # compile on the workers

    def teardown(self, mode):
        self.client.close()
        self.cluster.close()

    def time_fit_5_rounds(self, mode):
        self.fit()

    def track_loss(self, mode):
        return self.fit().loss_curve_[-1]
