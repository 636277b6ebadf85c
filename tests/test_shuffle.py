"""The engine's seeded permutations (fastgd.engine.shuffle) and the row orders built on them."""

import itertools

import numpy as np
import pytest

from fastgd.engine.data import row_order
from fastgd.engine.shuffle import draw_seed, shuffle_


@pytest.mark.parametrize("n", [0, 1, 2, 7, 1000])
def test_is_a_permutation(n):
    a = np.arange(n, dtype=np.int64)
    shuffle_(a, 123)
    np.testing.assert_array_equal(np.sort(a), np.arange(n))


def test_same_seed_same_order_and_seeds_differ():
    a, b, c = (np.arange(1000, dtype=np.int64) for _ in range(3))
    shuffle_(a, 5)
    shuffle_(b, 5)
    shuffle_(c, 6)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert not np.array_equal(a, np.arange(1000))


def test_every_order_equally_likely():
    # all 24 orders of 4 items, 24,000 shuffles: a chi-square test at p = 1e-4
    orders = {p: k for k, p in enumerate(itertools.permutations(range(4)))}
    counts = np.zeros(len(orders))
    a = np.arange(4, dtype=np.int64)
    for seed in range(24_000):
        a[:] = np.arange(4)
        shuffle_(a, seed * 7919 + 1)
        counts[orders[tuple(a)]] += 1
    expected = 24_000 / 24
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < 58.0, counts  # the 1 - 1e-4 quantile of chi-square with 23 degrees


def test_every_position_equally_likely():
    # item i lands in position j with probability 1/n: a chi-square test on the n x n counts
    n, runs = 10, 20_000
    counts = np.zeros((n, n))
    rng = np.random.default_rng(0)
    a = np.empty(n, dtype=np.int64)
    for _ in range(runs):
        a[:] = np.arange(n)
        shuffle_(a, draw_seed(rng))
        counts[a, np.arange(n)] += 1
    expected = runs / n
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < 150.0, counts  # 81 degrees of freedom: the 1 - 1e-4 quantile is about 134


@pytest.mark.parametrize("mode", ["full", "blocks"])
def test_row_order_reproducible_and_leaves_rows_alone(mode):
    rows = np.arange(0, 200, 2, dtype=np.int64)
    kept = rows.copy()
    one = row_order(rows, 200, mode, np.random.default_rng(3), 16)
    two = row_order(rows, 200, mode, np.random.default_rng(3), 16)
    np.testing.assert_array_equal(rows, kept)
    np.testing.assert_array_equal(one, two)
    np.testing.assert_array_equal(np.sort(one), rows)
    assert one.dtype == np.int32  # below 2**31 rows


def test_blocks_keep_rows_of_a_block_together():
    order = row_order(None, 100, "blocks", np.random.default_rng(1), 16)
    block_of = order // 16
    # 7 blocks (the last one of 4 rows), each visited as one run of positions
    runs = block_of[np.r_[True, block_of[1:] != block_of[:-1]]]
    assert sorted(runs) == list(range(7))
    assert not np.array_equal(runs, np.arange(7))
    np.testing.assert_array_equal(np.sort(order), np.arange(100))


def test_empty_rows():
    for mode in ("full", "blocks"):
        assert row_order(np.empty(0, dtype=np.int64), 10, mode, np.random.default_rng(), 4).size == 0
