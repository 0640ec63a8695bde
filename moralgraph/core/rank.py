"""Scores for values: two PageRank variants over kept edges, and Bradley-Terry over votes.

PageRank runs on *kept* edges (see :mod:`.edges`), each edge ``A -> B`` weighted by
its wiser likelihood ``w_AB``.  With ``N`` the number of nodes in the graph (the
values touched by kept edges, per context when ranking per context), ``d`` the
damping and ``W_A = sum_B w_AB`` the out-weight of ``A``:

MAI (``algorithm = "mai"``), 100 iterations from ``x_v = 1/N``, no convergence test::

    x'_v = (1 - d) / N + d * sum_{A -> v} x_A * w_Av / W_A

Mass that reaches a node without out-edges (a *dangling* node: the wisest values)
leaves the system, so the scores need not sum to 1.  MAI's loop rescans every edge
per edge (quadratic); this is one sparse matrix-vector product per iteration.

NetworkX (``algorithm = "networkx"``): the same update plus the dangling mass
``D = sum_{W_u = 0} x_u`` spread uniformly, iterated until
``sum_v |x'_v - x_v| < N * tol``::

    x'_v = (1 - d) / N + d * (D / N + sum_{A -> v} x_A * w_Av / W_A)

Several graphs (one per context) are ranked at once: ``block[v]`` names the graph
of node ``v`` and ``N`` is the size of that block.

Bradley-Terry with acquiescence.  A rater shown the story ``A -> B`` in context
``c`` says "B is wiser" with probability

.. math:: P(y = 1) = \\sigma(\\theta_{c,B} - \\theta_{c,A} + \\alpha)

where ``alpha`` is the tendency to agree with whatever story is shown (one shared
intercept, or one per context).  Answer mapping: ``wiser -> y = 1``;
``not_wiser`` and ``less_wise -> y = 0`` (both deny that B is wiser; the binary
model does not separate "equal" from "less"); ``unsure`` votes are left out.  The
fit is the penalised MLE

.. math::

    \\min_{\\theta,\\alpha} \\sum_i w_i \\,[\\log(1 + e^{z_i}) - y_i z_i]
        + \\tfrac{\\lambda}{2}\\lVert\\theta\\rVert^2
        + \\tfrac{\\lambda_\\alpha}{2}\\lVert\\alpha\\rVert^2,
    \\qquad z_i = \\theta_{B_i} - \\theta_{A_i} + \\alpha

solved by Newton's method with the analytic gradient
``d/d theta_v = sum_{B_i = v} r_i - sum_{A_i = v} r_i + lambda theta_v``,
``d/d alpha = sum_i r_i + lambda_alpha alpha`` with ``r_i = w_i (sigma(z_i) - y_i)``,
and Hessian ``X^T diag(w_i p_i (1 - p_i)) X + diag(lambda)``, where row ``i`` of the
design ``X`` has +1 at B_i, -1 at A_i and +1 at alpha.
Adding a constant to every ``theta`` of a context leaves the likelihood unchanged;
the ridge term picks the solution with ``sum theta = 0`` per context (we recenter
to make it exact).  When the votes cannot tell a general agree-tendency from value
differences (every pair shown in one direction only), ``lambda_alpha << lambda``
lets ``alpha`` absorb the shared part: values only move apart for what the
acquiescence cannot explain.  Confidence intervals come from a cluster bootstrap
that resamples raters with replacement (weights ``w_i`` = times the rater of vote
``i`` was drawn).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.sparse.linalg  # noqa: F401  (registers sparse.linalg)
from scipy import sparse
from scipy.special import expit

from .edges import GLOBAL, EdgeTable
from .types import LESS_WISE, NOT_WISER, WISER, Config, VoteArrays

MAI_ALGORITHM = "mai_pagerank"
NETWORKX_ALGORITHM = "networkx_pagerank"


# -- PageRank -----------------------------------------------------------------


def _transition(src: np.ndarray, dst: np.ndarray, weight: np.ndarray, n: int) -> sparse.csr_array:
    """Column-stochastic-ish ``M[dst, src] = w / W_src`` (0 where ``W_src`` is 0)."""
    out_weight = np.bincount(src, weights=weight, minlength=n)
    coef = np.zeros(len(src))
    np.divide(weight, out_weight[src], out=coef, where=out_weight[src] > 0)
    return sparse.csr_array((coef, (dst, src)), shape=(n, n))


def _block_sizes(block: np.ndarray | None, n: int) -> tuple[np.ndarray, np.ndarray]:
    block = np.zeros(n, dtype=np.int64) if block is None else np.asarray(block)
    return block, np.bincount(block)[block].astype(np.float64)


def pagerank_mai(
    src: np.ndarray,
    dst: np.ndarray,
    weight: np.ndarray,
    n_nodes: int,
    *,
    block: np.ndarray | None = None,
    damping: float = 0.85,
    iterations: int = 100,
) -> np.ndarray:
    """MAI's PageRank (no dangling redistribution) on nodes ``0..n_nodes-1``."""
    block, size = _block_sizes(block, n_nodes)
    matrix = _transition(src, dst, weight, n_nodes)
    teleport = (1 - damping) / size
    x = 1 / size
    for _ in range(iterations):
        x = teleport + damping * (matrix @ x)
    return x


def pagerank_networkx(
    src: np.ndarray,
    dst: np.ndarray,
    weight: np.ndarray,
    n_nodes: int,
    *,
    block: np.ndarray | None = None,
    damping: float = 0.85,
    tol: float = 1e-12,
    max_iter: int = 1000,
) -> np.ndarray:
    """NetworkX's weighted PageRank (dangling mass spread uniformly within its block)."""
    block, size = _block_sizes(block, n_nodes)
    matrix = _transition(src, dst, weight, n_nodes)
    dangling = np.bincount(src, weights=weight, minlength=n_nodes) == 0
    x = 1 / size
    for _ in range(max_iter):
        lost = np.bincount(block, weights=np.where(dangling, x, 0.0))[block]
        new = (1 - damping) / size + damping * (matrix @ x + lost / size)
        done = np.abs(new - x).sum() < n_nodes * tol
        x = new
        if done:
            break
    return x


@dataclass(frozen=True, eq=False)
class Scores:
    """Scores of (context, value) nodes, sorted by context, then score descending."""

    context: np.ndarray
    value: np.ndarray
    score: np.ndarray
    algorithm: str

    def __len__(self) -> int:
        return len(self.value)


def rank_edges(table: EdgeTable, config: Config | None = None) -> Scores:
    """PageRank of every context graph (or the global one) made of the table's kept edges."""
    config = config or Config()
    kept = table.select(table.kept)
    nv = np.int64(max(int(kept.src.max(initial=0)), int(kept.dst.max(initial=0))) + 1)
    src_key = (kept.context + 1) * nv + kept.src
    dst_key = (kept.context + 1) * nv + kept.dst
    nodes, inv = np.unique(np.concatenate([src_key, dst_key]), return_inverse=True)
    inv = inv.reshape(-1)
    node_context, node_value = np.divmod(nodes, nv)
    _, block = np.unique(node_context, return_inverse=True)
    m = len(kept)
    run = pagerank_mai if config.pagerank == "mai" else pagerank_networkx
    kwargs = {"iterations": config.iterations} if config.pagerank == "mai" else {}
    score = run(
        inv[:m],
        inv[m:],
        kept.likelihood,
        len(nodes),
        block=block.reshape(-1),
        damping=config.damping,
        **kwargs,
    )
    order = np.lexsort((node_value, -score, node_context))
    algorithm = MAI_ALGORITHM if config.pagerank == "mai" else NETWORKX_ALGORITHM
    return Scores(node_context[order] - 1, node_value[order], score[order], algorithm)


# -- Bradley-Terry --------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class BTData:
    """Decisive votes as a design.

    Per vote: node ids ``a`` (shown as less wise) and ``b``, alpha id, outcome
    ``y`` and rater.  Votes with the same (a, b, alpha, y) form one *cell*
    (``cell`` maps votes to cells); the likelihood only needs cell weights, so
    fits run on cells.
    """

    node_context: np.ndarray
    node_value: np.ndarray
    a: np.ndarray
    b: np.ndarray
    alpha: np.ndarray
    alpha_context: np.ndarray
    y: np.ndarray
    rater: np.ndarray
    cell: np.ndarray
    cell_rows: np.ndarray

    @cached_property
    def design(self) -> sparse.csr_array:
        """Per cell: +1 at node B, -1 at node A, +1 at its alpha column; ``z = X @ x``."""
        rows = self.cell_rows
        n, n_nodes = len(rows), len(self.node_value)
        cols = np.column_stack([self.b[rows], self.a[rows], n_nodes + self.alpha[rows]])
        shape = (n, n_nodes + len(self.alpha_context))
        entries = (np.tile([1.0, -1.0, 1.0], n), (np.repeat(np.arange(n), 3), cols.reshape(-1)))
        return sparse.csr_array(entries, shape=shape)

    def cell_weights(self, weights: np.ndarray | None) -> np.ndarray:
        """Total vote weight per cell."""
        return np.bincount(self.cell, weights=weights, minlength=len(self.cell_rows))


@dataclass(frozen=True, eq=False)
class BTFit:
    """Fitted abilities ``theta`` per (context, value) node and acquiescence ``alpha``."""

    node_context: np.ndarray
    node_value: np.ndarray
    theta: np.ndarray
    alpha: np.ndarray
    alpha_context: np.ndarray
    converged: bool


@dataclass(frozen=True, eq=False)
class BTIntervals:
    """Percentile bootstrap interval per node, and how often it came out on top."""

    lo: np.ndarray
    hi: np.ndarray
    prob_top: np.ndarray
    samples: int


def bt_data(votes: VoteArrays, *, by_context: bool = True, alpha: str = "shared") -> BTData:
    """Design for :func:`bradley_terry` from the decisive votes, in canonical order."""
    decisive = votes.take(np.isin(votes.answer, (WISER, NOT_WISER, LESS_WISE))).canonical()
    n = decisive.n_votes
    ctx = decisive.context if by_context else np.full(n, GLOBAL, dtype=np.int64)
    nv = np.int64(max(votes.n_values, 1))
    keys = np.concatenate([(ctx + 1) * nv + decisive.src, (ctx + 1) * nv + decisive.dst])
    nodes, inv = np.unique(keys, return_inverse=True)
    inv = inv.reshape(-1)
    node_context, node_value = np.divmod(nodes, nv)
    if alpha == "per_context":
        alpha_context, alpha_idx = np.unique(ctx, return_inverse=True)
    else:
        alpha_context, alpha_idx = np.array([GLOBAL]), np.zeros(n, dtype=np.int64)
    a, b, alpha_idx = inv[:n], inv[n:], alpha_idx.reshape(-1)
    y = decisive.answer == WISER
    cell_key = ((a * len(nodes) + b) * len(alpha_context) + alpha_idx) * 2 + y
    _, cell_rows, cell = np.unique(cell_key, return_index=True, return_inverse=True)
    return BTData(
        node_context - 1,
        node_value,
        a,
        b,
        alpha_idx,
        alpha_context,
        y.astype(np.float64),
        decisive.rater,
        cell.reshape(-1),
        cell_rows,
    )


def _recenter(data: BTData, theta: np.ndarray) -> np.ndarray:
    _, block = np.unique(data.node_context, return_inverse=True)
    block = block.reshape(-1)
    mean = np.bincount(block, theta) / np.bincount(block)
    return theta - mean[block]


def _loss(x, design, y, weights, reg) -> tuple[float, np.ndarray, np.ndarray]:
    """Penalised negative log-likelihood, its gradient, and ``z``."""
    z = design @ x
    loss = weights @ (np.logaddexp(0.0, z) - y * z) + 0.5 * (reg * x) @ x
    grad = design.T @ (weights * (expit(z) - y)) + reg * x
    return float(loss), grad, z


def _newton_step(design, weights, z, reg, grad) -> np.ndarray:
    """Solve ``H s = g`` with ``H = X^T diag(w p (1 - p)) X + diag(reg)``.

    Large systems use conjugate gradients to a relative residual of
    ``min(0.1, sqrt(|g|))`` (inexact Newton: loose far from the optimum, tight near it).
    """
    p = expit(z)
    h = weights * p * (1 - p)
    hessian = design.T @ (design * h[:, None])
    if design.shape[1] <= _DENSE_LIMIT:
        return np.linalg.solve(hessian.toarray() + np.diag(reg), grad)
    hessian = (hessian + sparse.diags_array(reg)).tocsr()
    jacobi = sparse.diags_array(1 / hessian.diagonal())
    rtol = min(0.1, float(np.sqrt(np.linalg.norm(grad))))
    step, _ = sparse.linalg.cg(hessian, grad, rtol=rtol, maxiter=2000, M=jacobi)
    return step


_DENSE_LIMIT = 1500


def fit_bt(
    data: BTData,
    *,
    l2: float = 0.1,
    alpha_l2: float = 0.01,
    weights: np.ndarray | None = None,
    init: BTFit | None = None,
    tol: float = 1e-9,
    max_iter: int = 100,
) -> BTFit:
    """Penalised maximum-likelihood Bradley-Terry fit by damped Newton iterations.

    The objective is strictly convex (ridge), so Newton's method with a
    backtracking (Armijo) line search converges; it stops when the largest
    gradient component is below ``tol``.  Hessian systems are solved densely for
    up to 1,500 parameters and by Jacobi-preconditioned conjugate gradients above.
    """
    n_nodes = len(data.node_value)
    weights = data.cell_weights(weights)
    y = data.y[data.cell_rows]
    reg = np.concatenate([np.full(n_nodes, l2), np.full(len(data.alpha_context), alpha_l2)])
    x = np.zeros(len(reg)) if init is None else np.concatenate([init.theta, init.alpha])
    design = data.design
    loss, grad, z = _loss(x, design, y, weights, reg)
    converged = False
    for _ in range(max_iter):
        if np.abs(grad).max(initial=0.0) < tol:
            converged = True
            break
        step = _newton_step(design, weights, z, reg, grad)
        # Below rounding noise of the loss, Armijo cannot tell: take the full step.
        slack = 1e-13 * max(1.0, abs(loss))
        t, slope = 1.0, grad @ step
        while True:
            trial = x - t * step
            new_loss, new_grad, new_z = _loss(trial, design, y, weights, reg)
            if new_loss <= loss - 1e-4 * t * slope + slack or t < 1e-10:
                break
            t /= 2
        x, loss, grad, z = trial, new_loss, new_grad, new_z
        if np.abs(t * step).max(initial=0.0) < 1e-12:
            converged = True
            break
    theta = _recenter(data, x[:n_nodes])
    return BTFit(
        data.node_context, data.node_value, theta, x[n_nodes:], data.alpha_context, converged
    )


def warm_start(fit: BTFit, data: BTData) -> BTFit:
    """``fit``'s parameters laid out for ``data`` (a subset of the votes ``fit`` saw, such as
    a held-out fold's training part), as ``init`` for :func:`fit_bt`: the optimum is the same,
    but Newton starts near it. Nodes or acquiescence terms ``fit`` lacks start at 0."""
    return BTFit(
        data.node_context,
        data.node_value,
        _aligned(
            _node_keys(fit.node_context, fit.node_value),
            fit.theta,
            _node_keys(data.node_context, data.node_value),
        ),
        _aligned(fit.alpha_context, fit.alpha, data.alpha_context),
        data.alpha_context,
        False,
    )


def _node_keys(context: np.ndarray, value: np.ndarray) -> np.ndarray:
    return (context.astype(np.int64) + 1) * np.int64(2**31) + value


def _aligned(keys: np.ndarray, values: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """``values`` at ``wanted`` keys (``keys`` sorted and unique), 0 where a key is missing."""
    if len(keys) == 0:
        return np.zeros(len(wanted))
    pos = np.clip(np.searchsorted(keys, wanted), 0, len(keys) - 1)
    return np.where(keys[pos] == wanted, values[pos], 0.0)


def bradley_terry(votes: VoteArrays, config: Config | None = None) -> tuple[BTData, BTFit]:
    """Fit per-context Bradley-Terry scores on ``votes`` with ``config``'s penalties."""
    config = config or Config()
    data = bt_data(votes, alpha=config.bt_alpha)
    return data, fit_bt(data, l2=config.bt_l2, alpha_l2=config.bt_alpha_l2)


def top_share(context: np.ndarray, theta: np.ndarray, *, atol: float = 1e-9) -> np.ndarray:
    """Per node, 1/k if it is one of the k values tied (within ``atol``) for the top of its
    context, else 0."""
    _, block = np.unique(context, return_inverse=True)
    block = block.reshape(-1)
    best = np.full(block.max(initial=-1) + 1, -np.inf)
    np.maximum.at(best, block, theta)
    tied = theta >= best[block] - atol
    return tied / np.bincount(block, weights=tied)[block]


def bt_bootstrap(
    data: BTData,
    fit: BTFit,
    *,
    samples: int,
    rng: np.random.Generator,
    level: float = 0.95,
    l2: float = 0.1,
    alpha_l2: float = 0.01,
) -> BTIntervals:
    """Cluster bootstrap over raters: refit with rater multiplicities as vote weights."""
    raters, rater_idx = np.unique(data.rater, return_inverse=True)
    draws = np.empty((samples, len(fit.theta)))
    top = np.zeros(len(fit.theta))
    for s in range(samples):
        times = np.bincount(rng.integers(0, len(raters), len(raters)), minlength=len(raters))
        refit = fit_bt(data, l2=l2, alpha_l2=alpha_l2, weights=times[rater_idx], init=fit)
        draws[s] = refit.theta
        top += top_share(fit.node_context, refit.theta)
    tail = (1 - level) / 2
    if samples == 0:
        nan = np.full(len(fit.theta), np.nan)
        return BTIntervals(nan, nan.copy(), nan.copy(), 0)
    lo, hi = np.quantile(draws, [tail, 1 - tail], axis=0)
    return BTIntervals(lo, hi, top / samples, samples)


def bt_predict(fit: BTFit, votes: VoteArrays, *, by_context: bool = True) -> np.ndarray:
    """P("wiser") for each vote; values or contexts the fit never saw get theta 0.

    ``votes`` must share the label tables of the votes the fit was made on.
    """
    nv = np.int64(max(votes.n_values, 1))
    ctx = votes.context if by_context else np.full(votes.n_votes, GLOBAL, dtype=np.int64)
    keys = (fit.node_context + 1) * nv + fit.node_value
    theta_b = _lookup(keys, fit.theta, (ctx + 1) * nv + votes.dst)
    theta_a = _lookup(keys, fit.theta, (ctx + 1) * nv + votes.src)
    return expit(theta_b - theta_a + _alpha_for(fit, ctx))


def _lookup(keys: np.ndarray, values: np.ndarray, query: np.ndarray) -> np.ndarray:
    pos = np.clip(np.searchsorted(keys, query), 0, max(len(keys) - 1, 0))
    found = (keys[pos] == query) if len(keys) else np.zeros(len(query), dtype=bool)
    return np.where(found, values[pos] if len(keys) else 0.0, 0.0)


def _alpha_for(fit: BTFit, ctx: np.ndarray) -> np.ndarray:
    if len(fit.alpha_context) == 1 and fit.alpha_context[0] == GLOBAL:
        return np.full(len(ctx), fit.alpha[0])
    # Contexts with no alpha of their own fall back to the mean acquiescence.
    return np.where(
        np.isin(ctx, fit.alpha_context),
        _lookup(fit.alpha_context, fit.alpha, ctx),
        fit.alpha.mean() if len(fit.alpha) else 0.0,
    )
