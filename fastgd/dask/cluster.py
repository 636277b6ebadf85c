"""Workers that neither oversubscribe the cores nor crash: processes, start method, numba threads.

Two things go wrong when numba's parallel kernels run inside Dask workers:

* **Oversubscription.** Each numba thread pool defaults to one thread per
  core, so k worker processes on one host would run k x cores threads. fastgd
  caps numba's threads per dask thread at ``cores // (dask threads on the
  host)`` (:func:`thread_plan`; every task calls ``numba.set_num_threads``,
  whose setting is per calling thread), and :func:`local_cluster` also puts
  ``NUMBA_NUM_THREADS`` in the workers' environment (it sizes the pool only
  if it arrives before the worker imports numba; the per-task cap is what
  counts). fastgd never changes the client process's environment: numba
  re-reads it on every compile and cannot resize a launched pool.
* **Fork.** The GNU OpenMP runtime behind numba's ``omp`` threading layer is
  not fork-safe: a process forked from one that has started OpenMP threads
  can hang or crash in its first parallel region (numba docs, "threading
  layers"). Dask's nannies start worker processes with
  ``distributed.worker.multiprocessing-method`` -- "spawn" by default, which
  is safe: every worker is a fresh interpreter. Keep it "spawn" (or
  "forkserver"); with "fork", set ``NUMBA_THREADING_LAYER=tbb`` (pip install
  tbb) or "workqueue" in the workers' environment. :func:`local_cluster`
  always uses spawn. Spawned workers re-import the main module of a script:
  guard a script's cluster code with ``if __name__ == "__main__":``.

With several dask threads per worker, numba kernels are entered from several
threads at once: ``omp`` and ``tbb`` allow that; under ``workqueue`` fastgd
serialises them with a lock (:func:`fastgd.engine.guard`).
"""

import os

from ._data import require_dask
from ._worker import worker_info

THREADING_LAYERS = ("default", "safe", "threadsafe", "forksafe", "tbb", "omp", "workqueue")


def _cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def local_cluster(n_workers=2, threads_per_worker=1, numba_threads=None, threading_layer=None,
                  **kwargs):
    """A ``distributed.LocalCluster`` of worker processes set up for fastgd's kernels.

    Parameters
    ----------
    n_workers : int, default 2
        Worker processes (``processes=True``), started by spawn.
    threads_per_worker : int, default 1
        Dask threads per worker (tasks run at once in one worker).
    numba_threads : int or None
        Numba threads per dask thread; None: ``cores // (n_workers * threads_per_worker)``,
        at least 1. Every task caps its numba threads to it; the workers also get
        ``NUMBA_NUM_THREADS`` in their environment (too late for a worker that
        imported numba already: its pool stays one thread per core, idle beyond the cap).
    threading_layer : str or None
        Numba's threading layer in the workers (``NUMBA_THREADING_LAYER``);
        None keeps numba's choice.
    **kwargs
        Passed on to ``LocalCluster`` (``memory_limit``, ``env`` ...; numba's
        variables in ``env`` come too late, pass them as arguments here).
        Listens on 127.0.0.1 with a dashboard on a free port unless told otherwise.

    Use it as a context manager, in a script under ``if __name__ == "__main__":``::

        from distributed import Client
        from fastgd.dask import local_cluster
        with local_cluster(2) as cluster, Client(cluster) as client:
            ...
    """
    from .._validation import check_int
    n_workers = check_int("n_workers", n_workers, low=1)
    threads_per_worker = check_int("threads_per_worker", threads_per_worker, low=1)
    if numba_threads is None:
        numba_threads = max(1, _cores() // (n_workers * threads_per_worker))
    numba_threads = check_int("numba_threads", numba_threads, low=1)
    if threading_layer is not None and threading_layer not in THREADING_LAYERS:
        raise ValueError(f"threading_layer must be None or one of {THREADING_LAYERS}, "
                         f"got {threading_layer!r}")
    if "processes" in kwargs and not kwargs["processes"]:
        raise ValueError("local_cluster starts worker processes: use distributed.LocalCluster("
                         "processes=False) directly for threads in this process")
    kwargs.pop("processes", None)
    _, distributed = require_dask()
    import dask
    numba_env = {"NUMBA_NUM_THREADS": str(numba_threads)}
    if threading_layer is not None:
        numba_env["NUMBA_THREADING_LAYER"] = threading_layer
    # The variables go in the nannies' ``environ``, which each worker applies to
    # itself. ``pre-spawn-environ`` would reach numba before a worker imports it,
    # but the nanny writes it into *this* process's os.environ at every (re)start
    # of a worker, and numba here re-reads its environment on each compile: its
    # pool size would change under it ("Cannot set NUMBA_NUM_THREADS ... once the
    # threads have been launched"). So a worker that imported numba early keeps a
    # pool of one thread per core, and every task caps the threads it uses with
    # ``numba.set_num_threads`` (see :func:`thread_plan`).
    environ = dict(dask.config.get("distributed.nanny.environ", None) or {})
    environ.update(numba_env)
    kwargs.setdefault("host", "127.0.0.1")
    kwargs.setdefault("dashboard_address", ":0")
    with dask.config.set({"distributed.worker.multiprocessing-method": "spawn",
                          "distributed.nanny.environ": environ}):
        return distributed.LocalCluster(n_workers=n_workers,
                                        threads_per_worker=threads_per_worker,
                                        processes=True, **kwargs)


def thread_plan(client, numba_threads=None):
    """Numba threads per dask thread, by host: ``{host: k}``.

    None: ``k = cores of the host // dask threads of all workers on that host``
    (at least 1); an integer: that number everywhere.
    """
    workers = client.nthreads()  # address -> dask threads
    if not workers:
        raise ValueError("the Dask cluster has no workers: start some (e.g. "
                         "fastgd.dask.local_cluster(2)) before fitting")
    info = client.run(worker_info)
    hosts = {}
    for addr, nthreads in workers.items():
        host = addr.rsplit(":", 1)[0]
        cpus = info.get(addr, {}).get("cpus", 1)
        total, most = hosts.get(host, (0, 0))
        hosts[host] = (total + nthreads, max(most, cpus))
    if numba_threads is not None:
        return {host: numba_threads for host in hosts}
    return {host: max(1, cpus // max(1, total)) for host, (total, cpus) in hosts.items()}
