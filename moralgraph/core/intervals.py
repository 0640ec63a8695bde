"""Bradley-Terry intervals and P(top) without refitting: a linearised cluster bootstrap.

:func:`.rank.bt_bootstrap` refits the model once per bootstrap sample (raters drawn with
replacement; rater ``r`` drawn ``t_r`` times gives each of their votes weight ``t_r``).  A
refit starts at the full fit ``x`` (abilities and acquiescence), where the penalised gradient
is zero, so a sample's gradient there is only the change in vote weights::

    g_s = sum_i (t_{r(i)} - 1) * (p_i - y_i) * X_i = G_r @ (t - 1)

with ``G_r`` the per-rater gradients (one sparse column per rater).  One Newton step with the
Hessian of the *sample* gives the refit's optimum to second order::

    x_s = x - H_s^{-1} g_s,    H_s = X^T diag(t_i p_i (1 - p_i)) X + diag(reg)

We solve with the full-data Hessian ``H`` (factorised once, sparse LU: the contexts are
independent blocks joined only by the acquiescence columns) and correct each step on the
diagonal, where a sample's Hessian differs most (a value whose few raters were not drawn
keeps only its ridge term):

    x_s = x - D_s^{-1} D (H^{-1} g_s),   D = diag(H),  D_s = diag(H_s)

Samples are drawn with the same generator calls as :func:`.rank.bt_bootstrap`, in chunks,
so the same seed resamples the same raters and memory stays bounded by the chunk.  Intervals
are percentiles of the samples' abilities (recentred per context) and P(top) the share of
samples in which a value came out on top of its context, as before.

One step is not enough where a value has a handful of votes (the flat part of the likelihood)
or where the acquiescence trades off against the abilities (every pair shown one way only, as
in MAI's data): there P(top) drifted by up to 0.35 from the refits.  So when every context has
at most :data:`EXACT_LIMIT` values, each sample is then refitted to convergence from its
one-step solution by batched Newton (:class:`_ExactRefit`), which gives the refits' answer.
Larger contexts keep the one-step solution; ``tests/unit/test_core_intervals.py`` holds both
paths to the refits on studies with known latent scores.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse.linalg  # noqa: F401  (registers sparse.linalg)
from scipy import sparse
from scipy.special import expit

from .rank import BTData, BTFit, BTIntervals

#: When no context has more values than this, every sample is refitted exactly (see
#: :class:`_ExactRefit`); otherwise the one-step solution stands.
EXACT_LIMIT = 150
#: Most bootstrap samples solved together; fewer where one sample's columns (parameters,
#: cells and raters, 8 bytes each) would pass :data:`CHUNK_BYTES` together.
CHUNK = 100
CHUNK_BYTES = 48 * 2**20
#: Nodes whose draws one quantile call sorts (a copy of ``rows * samples`` floats).
QUANTILE_ROWS = 20_000
#: Largest padded block system (bytes) the exact refit solves in one batched call.
PADDED_BYTES = 64 * 2**20
_TIE = 1e-9


def _penalty(data: BTData, l2: float, alpha_l2: float) -> np.ndarray:
    return np.concatenate(
        [np.full(len(data.node_value), l2), np.full(len(data.alpha_context), alpha_l2)]
    )


def _fitted(data: BTData, fit: BTFit) -> tuple[np.ndarray, np.ndarray]:
    """Per cell ``p(1 - p)`` and per vote the residual ``p - y`` at the fit."""
    z = data.design @ np.concatenate([fit.theta, fit.alpha])
    p = expit(z)
    return p * (1 - p), p[data.cell] - data.y


def _rater_gradients(data: BTData, residual: np.ndarray, rater_idx: np.ndarray) -> sparse.csr_array:
    """``G_r``: parameters x raters, each rater's share of the log-likelihood gradient."""
    n_nodes, n_raters = len(data.node_value), int(rater_idx.max(initial=-1)) + 1
    rows = np.concatenate([data.b, data.a, n_nodes + data.alpha])
    values = np.concatenate([residual, -residual, residual])
    shape = (n_nodes + len(data.alpha_context), n_raters)
    return sparse.csr_array((values, (rows, np.tile(rater_idx, 3))), shape=shape)


def _cell_raters(data: BTData, rater_idx: np.ndarray, n_raters: int) -> sparse.csr_array:
    """Cells x raters: how many of the rater's votes fall in the cell."""
    ones = np.ones(len(rater_idx))
    return sparse.csr_array((ones, (data.cell, rater_idx)), shape=(len(data.cell_rows), n_raters))


def _hessian(design: sparse.csr_array, h: np.ndarray, reg: np.ndarray) -> sparse.csc_array:
    hessian = design.T @ (design * h[:, None]) + sparse.diags_array(reg)
    return sparse.csc_array(hessian)


def _draw_counts(rng: np.random.Generator, n_raters: int, samples: int) -> np.ndarray:
    """Raters x samples: times each rater was drawn (the calls :func:`bt_bootstrap` makes)."""
    counts = np.empty((n_raters, samples))
    for s in range(samples):
        counts[:, s] = np.bincount(rng.integers(0, n_raters, n_raters), minlength=n_raters)
    return counts


def _chunk(rows: int) -> int:
    """Samples per chunk when one sample's columns hold ``rows`` floats between them."""
    return max(1, min(CHUNK, CHUNK_BYTES // (8 * max(rows, 1))))


def _draws(fit: BTFit, samples: int) -> bool:
    return samples > 0 and len(fit.theta) > 0


def skip_draws(rng: np.random.Generator, data: BTData, fit: BTFit, samples: int) -> None:
    """Move ``rng`` past the draws :func:`bt_intervals` makes from it for these arguments,
    without making them into counts: what comes after the intervals can then run beside
    them and draw what it would have drawn after them."""
    if not _draws(fit, samples):
        return
    n_raters = len(np.unique(data.rater))
    for _ in range(samples):
        rng.integers(0, n_raters, n_raters)


def _recenter(theta: np.ndarray, starts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    mean = np.add.reduceat(theta, starts, axis=0) / sizes[:, None]
    return theta - np.repeat(mean, sizes, axis=0)


def _top_shares(theta: np.ndarray, starts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Per node, summed over the columns: 1/k when tied with k others for its block's top."""
    best = np.repeat(np.maximum.reduceat(theta, starts, axis=0), sizes, axis=0)
    tied = theta >= best - _TIE
    ties = np.repeat(np.add.reduceat(tied, starts, axis=0), sizes, axis=0)
    return (tied / ties).sum(axis=1)


def bt_intervals(
    data: BTData,
    fit: BTFit,
    *,
    samples: int,
    rng: np.random.Generator,
    level: float = 0.95,
    l2: float = 0.1,
    alpha_l2: float = 0.01,
    exact_limit: int = EXACT_LIMIT,
) -> BTIntervals:
    """Percentile intervals and P(top) per node from a linearised rater bootstrap (module doc)."""
    n_nodes = len(fit.theta)
    if not _draws(fit, samples):
        nan = np.full(n_nodes, np.nan)
        return BTIntervals(nan, nan.copy(), nan.copy(), 0)
    _, rater_idx = np.unique(data.rater, return_inverse=True)
    rater_idx = rater_idx.reshape(-1)
    n_raters = int(rater_idx.max()) + 1
    reg = _penalty(data, l2, alpha_l2)
    curvature, residual = _fitted(data, fit)
    weights = data.cell_weights(None)
    hessian = _hessian(data.design, weights * curvature, reg)
    solve = sparse.linalg.splu(hessian, permc_spec="COLAMD").solve
    cell_raters = _cell_raters(data, rater_idx, n_raters)
    sample_diag = _sample_diagonal(data, curvature, cell_raters, reg)
    gradients = _rater_gradients(data, residual, rater_idx)
    starts, sizes = _blocks(fit.node_context)
    draws = np.empty((n_nodes, samples), dtype=np.float32)
    top = np.zeros(n_nodes)
    exact = _ExactRefit(data, starts, sizes, l2, alpha_l2) if _small(sizes, exact_limit) else None
    chunk = _chunk(n_nodes + len(fit.alpha) + len(data.cell_rows) + n_raters)
    for first in range(0, samples, chunk):
        k = min(chunk, samples - first)
        counts = _draw_counts(rng, n_raters, k)
        step = solve(gradients @ (counts - 1)) * hessian.diagonal()[:, None]
        step /= sample_diag(counts)
        x = np.concatenate([fit.theta, fit.alpha])[:, None] - step
        if exact is not None:
            x = exact.refit(x, cell_raters @ counts)
        theta = _recenter(x[:n_nodes], starts, sizes)
        draws[:, first : first + k] = theta
        top += _top_shares(theta, starts, sizes)
    lo, hi = _percentiles(draws, level)
    return BTIntervals(lo, hi, top / samples, samples)


def _percentiles(draws: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Per node (row), the two-sided percentile interval of its draws; a block of rows at a
    time, since the quantile copies what it sorts."""
    tail = (1 - level) / 2
    bounds = np.empty((2, len(draws)))
    for start in range(0, len(draws), QUANTILE_ROWS):
        rows = draws[start : start + QUANTILE_ROWS]
        bounds[:, start : start + len(rows)] = np.quantile(rows, [tail, 1 - tail], axis=1)
    return bounds[0], bounds[1]


def _sample_diagonal(data: BTData, curvature: np.ndarray, cell_raters, reg):
    """A function of the draw counts giving ``diag(H_s)`` for each sample (columns)."""
    rows = data.cell_rows
    n_nodes = len(data.node_value)
    ends = sparse.csr_array(
        (
            np.tile(curvature, 3),
            (
                np.concatenate([data.b[rows], data.a[rows], n_nodes + data.alpha[rows]]),
                np.tile(np.arange(len(rows)), 3),
            ),
        ),
        shape=(len(reg), len(rows)),
    )

    def diagonal(counts: np.ndarray) -> np.ndarray:
        return ends @ (cell_raters @ counts) + reg[:, None]

    return diagonal


def _blocks(node_context: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and size of each context's run of nodes (nodes are sorted by context)."""
    if len(node_context) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, node_context[1:] != node_context[:-1]])
    return starts, np.diff(np.r_[starts, len(node_context)])


def _small(sizes: np.ndarray, limit: int) -> bool:
    return len(sizes) > 0 and int(sizes.max()) <= limit


class _ExactRefit:
    """Every sample of a chunk refitted to convergence by batched damped Newton, from its
    one-step solution.

    Where contexts are small, a value has a handful of votes and sits on the flat part of the
    likelihood, and when every pair was shown one way only the acquiescence trades off against
    the abilities: one step is not enough there.  The Hessian is an arrow: a dense block per
    context, joined only through the acquiescence, so each step solves the blocks and eliminates
    the acquiescence by its Schur complement.
    """

    def __init__(self, data: BTData, starts, sizes, l2: float, alpha_l2: float) -> None:
        rows = data.cell_rows
        self.a, self.b, self.alpha, self.y = (
            data.a[rows],
            data.b[rows],
            data.alpha[rows],
            data.y[rows],
        )
        self.n, self.m = len(data.node_value), len(data.alpha_context)
        self.l2, self.alpha_l2 = l2, alpha_l2
        block_of = np.repeat(np.arange(len(sizes)), sizes)[self.a]
        self.blocks = [
            (int(start), int(size), np.flatnonzero(block_of == i))
            for i, (start, size) in enumerate(zip(starts, sizes, strict=True))
        ]
        # Padded layout (every block as wide as the widest), to solve all blocks at once.
        self.width = int(sizes.max(initial=0))
        node_block = np.repeat(np.arange(len(sizes)), sizes)
        self.slot = node_block * self.width + (np.arange(self.n) - np.repeat(starts, sizes))

    def refit(self, x: np.ndarray, weights: np.ndarray, iterations: int = 30) -> np.ndarray:
        """Parameters (abilities, then acquiescence) x samples, each sample's optimum."""
        x, w = x.T.copy(), weights.T
        loss = self._loss(x, w)
        for _ in range(iterations):
            p = expit(self._z(x))
            grad = self._gradient(x, w * (p - self.y))
            if np.abs(grad).max(initial=0.0) < 1e-9:
                break
            step = self._solve(w * p * (1 - p), grad)
            x, loss = self._backtrack(x, step, loss, w)
        return x.T

    def _z(self, x):
        return x[:, self.b] - x[:, self.a] + x[:, self.n + self.alpha]

    def _loss(self, x, w):
        z = self._z(x)
        ridge = self.l2 * (x[:, : self.n] ** 2).sum(1) + self.alpha_l2 * (x[:, self.n :] ** 2).sum(
            1
        )
        return (w * (np.logaddexp(0.0, z) - self.y * z)).sum(1) + 0.5 * ridge

    def _gradient(self, x, r):
        k, size = x.shape
        grad = _scatter(r, self.b, size) - _scatter(r, self.a, size)
        grad += _scatter(r, self.n + self.alpha, size)
        grad[:, : self.n] += self.l2 * x[:, : self.n]
        grad[:, self.n :] += self.alpha_l2 * x[:, self.n :]
        return grad

    def _solve(self, h, grad):
        """Newton step for the arrow Hessian: blocks first, then the acquiescence."""
        padded = len(h) * len(self.blocks) * self.width**2 * (self.m + self.width)
        if padded * 8 <= PADDED_BYTES:
            return self._solve_padded(h, grad)
        return self._solve_blocks(h, grad)

    def _solve_padded(self, h, grad):
        """:meth:`_solve_blocks` with every block padded to the widest (ridge on the padding,
        which then solves to zero) and solved in one batched call."""
        k, n_blocks, width, m = len(h), len(self.blocks), self.width, self.m
        slots = n_blocks * width
        a, b = self.slot[self.a], self.slot[self.b]
        local_a, local_b = a % width, b % width
        pairs = ((b, local_b, h), (a, local_a, h), (a, local_b, -h), (b, local_a, -h))
        hessian = _scatter2(pairs, slots, width).reshape(k, n_blocks, width, width)
        hessian[:, :, np.arange(width), np.arange(width)] += self.l2
        coupling = _scatter2(((b, self.alpha, h), (a, self.alpha, -h)), slots, m)
        coupling = coupling.reshape(k, n_blocks, width, m)
        rhs = np.zeros((k, slots))
        rhs[:, self.slot] = grad[:, : self.n]
        both = np.concatenate([rhs.reshape(k, n_blocks, width, 1), coupling], axis=3)
        sol = np.linalg.solve(hessian, both)
        coupled = coupling.transpose(0, 1, 3, 2)
        schur = np.zeros((k, m, m))
        idx = np.arange(m)
        schur[:, idx, idx] = _scatter(h, self.alpha, m) + self.alpha_l2
        schur -= (coupled @ sol[..., 1:]).sum(axis=1)
        alpha_rhs = grad[:, self.n :] - (coupled @ sol[..., :1]).sum(axis=1)[..., 0]
        d_alpha = np.linalg.solve(schur, alpha_rhs[..., None])
        nodes = sol[..., 0] - (sol[..., 1:] @ d_alpha[:, None])[..., 0]
        step = np.empty_like(grad)
        step[:, self.n :] = d_alpha[..., 0]
        step[:, : self.n] = nodes.reshape(k, slots)[:, self.slot]
        return step

    def _solve_blocks(self, h, grad):
        """One block at a time: for blocks too many or too wide to pad in memory."""
        k = len(h)
        schur = np.zeros((k, self.m, self.m))
        idx = np.arange(self.m)
        schur[:, idx, idx] = _scatter(h, self.alpha, self.m) + self.alpha_l2
        rhs = grad[:, self.n :].copy()
        solved = []
        for start, size, cells in self.blocks:
            block, coupling = self._block(h[:, cells], cells, start, size)
            both = np.concatenate([grad[:, start : start + size, None], coupling], axis=2)
            sol = np.linalg.solve(block, both)
            schur -= coupling.transpose(0, 2, 1) @ sol[:, :, 1:]
            rhs -= (coupling.transpose(0, 2, 1) @ sol[:, :, :1])[:, :, 0]
            solved.append(sol)
        d_alpha = np.linalg.solve(schur, rhs[..., None])
        step = np.empty_like(grad)
        step[:, self.n :] = d_alpha[..., 0]
        for (start, size, _), sol in zip(self.blocks, solved, strict=True):
            step[:, start : start + size] = sol[:, :, 0] - (sol[:, :, 1:] @ d_alpha)[..., 0]
        return step

    def _block(self, h, cells, start, size):
        """A context's ability Hessian (k x size x size) and its coupling to the acquiescence."""
        a, b, alpha = self.a[cells] - start, self.b[cells] - start, self.alpha[cells]
        pairs = ((b, b, h), (a, a, h), (a, b, -h), (b, a, -h))
        block = _scatter2(pairs, size, size)
        block[:, np.arange(size), np.arange(size)] += self.l2
        coupling = _scatter2(((b, alpha, h), (a, alpha, -h)), size, self.m)
        return block, coupling

    def _backtrack(self, x, step, loss, w):
        """Halve a sample's step until its loss does not rise (rare from a warm start)."""
        t = np.ones(len(x))
        for _ in range(30):
            trial = x - t[:, None] * step
            new = self._loss(trial, w)
            worse = new > loss + 1e-12 * np.maximum(1.0, np.abs(loss))
            if not worse.any():
                break
            t[worse] /= 2
        return trial, new


def _scatter(values: np.ndarray, index: np.ndarray, size: int) -> np.ndarray:
    """Per row of ``values`` (samples x cells), the sums into ``size`` slots by ``index``."""
    k = len(values)
    flat = (np.arange(k)[:, None] * size + index).ravel()
    return np.bincount(flat, values.ravel(), k * size).reshape(k, size)


def _scatter2(parts, rows: int, cols: int) -> np.ndarray:
    """Per sample, a rows x cols matrix summing ``h`` at ``(i, j)`` for each part."""
    k = len(parts[0][2])
    base = np.arange(k)[:, None] * rows * cols
    flat = np.concatenate([(base + i * cols + j).ravel() for i, j, _ in parts])
    values = np.concatenate([h.ravel() for _, _, h in parts])
    return np.bincount(flat, values, k * rows * cols).reshape(k, rows, cols)
