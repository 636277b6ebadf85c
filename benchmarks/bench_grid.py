"""asv: 16 configurations of LogisticRegression (Adam, batch 256, one epoch) on 1M x 100 float32.

As the comparison section (``fastgd/bench/grid.py``): 4 learning rates x 4
penalties, trained together by ``fastgd.fit_many`` (shared passes over X),
one by one, and as one fit of one configuration; ``fit_many`` and
``GridSearchCV`` with ``exact=False`` too (the fused kernel); ``GridSearchCV`` with 5
folds. ``setup`` runs both on a slice first, so compile time never
pollutes a timing; ``peakmem_`` shows the grid needs no copy of X per model
or fold; ``track_`` records the best training log-loss of the grid, so a
faster but worse change shows.
"""

from sklearn.base import clone
from sklearn.model_selection import ParameterGrid

import fastgd
from fastgd.bench.grid import ALPHAS, FOLDS, LRS, _best_loss, _estimator, _grid
from fastgd.bench.linear import data


class GridFit:
    timeout = 900

    def setup(self):
        self.X, self.y = data()
        self.est, self.grid = _estimator(), _grid()
        fastgd.fit_many(self.est, self.grid, self.X[:2000], self.y[:2000])      # compile
        fastgd.fit_many(self.est, self.grid, self.X[:2000], self.y[:2000], exact=False)
        fastgd.GridSearchCV(self.est, self.grid, cv=2, refit=False).fit(self.X[:2000],
                                                                         self.y[:2000])

    def time_one_fit(self):
        clone(self.est).set_params(lr=LRS[1], alpha=ALPHAS[0]).fit(self.X, self.y)

    def time_fit_many(self):
        fastgd.fit_many(self.est, self.grid, self.X, self.y)

    def time_fit_many_fused(self):
        fastgd.fit_many(self.est, self.grid, self.X, self.y, exact=False)

    def time_grid_search_cv_fused(self):
        fastgd.GridSearchCV(self.est, self.grid, cv=FOLDS, refit=False,
                            exact=False).fit(self.X, self.y)

    def peakmem_fit_many(self):
        fastgd.fit_many(self.est, self.grid, self.X, self.y)

    def time_one_by_one(self):
        for params in ParameterGrid(self.grid):
            clone(self.est).set_params(**params).fit(self.X, self.y)

    def time_grid_search_cv(self):
        fastgd.GridSearchCV(self.est, self.grid, cv=FOLDS, refit=False).fit(self.X, self.y)

    def peakmem_grid_search_cv(self):
        fastgd.GridSearchCV(self.est, self.grid, cv=FOLDS, refit=False).fit(self.X, self.y)

    def track_best_loss(self):
        return float(_best_loss(fastgd.fit_many(self.est, self.grid, self.X, self.y),
                                self.X, self.y))

    track_best_loss.unit = "log-loss"
