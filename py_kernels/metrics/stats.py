"""Feature statistics that merge across shards, the Inception Score, and precision/recall.

A shard stores, per feature set, ``count``, ``sum`` (float64) and ``scatter``: the sum of
outer products of the deviations from the shard's own mean (float64). The raw sum of outer
products would lose digits by cancellation when ``|mean|`` is large against the spread.
Centred scatters merge exactly with Chan et al.'s pairwise formula
``S = S_a + S_b + (m_a - m_b)(m_a - m_b)^T n_a n_b / n``.
The covariance is ``scatter / (count - 1)``, as ``numpy.cov`` (pytorch-fid, ADM) computes it.
"""
import numpy as np


class FeatureAccumulator:
    """Running count, sum and centred scatter of ``[B, D]`` feature batches (float64)."""

    def __init__(self, dim):
        self.count = 0
        self.sum = np.zeros(dim, dtype=np.float64)
        self.scatter = np.zeros((dim, dim), dtype=np.float64)

    def add(self, features):
        batch = np.asarray(features, dtype=np.float64)
        if batch.shape[0] == 0:
            return
        n_b = batch.shape[0]
        mean_b = batch.mean(axis=0)
        centred = batch - mean_b
        scatter_b = centred.T @ centred
        if self.count == 0:
            self.count, self.sum, self.scatter = n_b, batch.sum(axis=0), scatter_b
            return
        n_a = self.count
        delta = mean_b - self.sum / n_a
        self.scatter += scatter_b + np.outer(delta, delta) * (n_a * n_b / (n_a + n_b))
        self.sum += batch.sum(axis=0)
        self.count += n_b

    def tensors(self, prefix):
        return {
            f"{prefix}.count": np.array([self.count], dtype=np.int64),
            f"{prefix}.sum": self.sum,
            f"{prefix}.scatter": self.scatter,
        }


def inception_score(logits, splits):
    """Return ``(mean, std)`` of the Inception Score of ``[N, 1008]`` logits in ``splits`` parts.

    Part ``i`` contains rows ``[i N / splits, (i + 1) N / splits)``; with N = 50000 and 10 splits
    that is ADM's split size of 5000. Each part scores ``exp(mean_x KL(p(y|x) || p(y)))``.
    """
    n = logits.shape[0]
    if n < splits:
        raise ValueError(f"the Inception Score needs at least as many images as splits ({splits}), got {n}")
    z = logits.astype(np.float64)
    z -= z.max(axis=1, keepdims=True)
    probs = np.exp(z)
    probs /= probs.sum(axis=1, keepdims=True)
    scores = []
    for i in range(splits):
        part = probs[i * n // splits : (i + 1) * n // splits]
        marginal = part.mean(axis=0, keepdims=True)
        kl = np.sum(part * (np.log(part + 1e-300) - np.log(marginal + 1e-300)), axis=1)
        scores.append(float(np.exp(kl.mean())))
    return float(np.mean(scores)), float(np.std(scores))


def _squared_distances(a, b):
    # |a|^2 - 2 a.b + |b|^2, clamped at 0 as ADM's evaluator does.
    d = (a * a).sum(1)[:, None] - 2 * a @ b.T + (b * b).sum(1)[None, :]
    return np.maximum(d, 0)


def manifold_radii(features, k=3, batch=4096):
    """Return the squared distance of each row to its k-th nearest other row."""
    n = features.shape[0]
    if n <= k:
        raise ValueError(f"precision/recall with k = {k} needs more than {k} images per set, got {n}")
    radii = np.empty(n)
    for begin in range(0, n, batch):
        d = _squared_distances(features[begin : begin + batch], features)
        # Index 0 of the partition is the row itself (distance 0), so index k is the k-th neighbour.
        radii[begin : begin + batch] = np.partition(d, k, axis=1)[:, k]
    return radii


def precision_recall(real, fake, k=3, batch=4096):
    """Return ``(precision, recall)`` as in the ADM evaluator (Kynkaanniemi et al. 2019).

    Precision: the fraction of fake samples within the k-NN radius of some real sample.
    Recall: the fraction of real samples within the k-NN radius of some fake sample.
    Distances are float64 here; ADM computes them in float16 when finite, so a sample lying
    exactly on a radius may be classified differently.
    """
    real = real.astype(np.float64)
    fake = fake.astype(np.float64)
    real_radii = manifold_radii(real, k, batch)
    fake_radii = manifold_radii(fake, k, batch)
    fake_in_real = np.zeros(fake.shape[0], dtype=bool)
    real_in_fake = np.zeros(real.shape[0], dtype=bool)
    for begin in range(0, real.shape[0], batch):
        d = _squared_distances(real[begin : begin + batch], fake)  # [b, M]
        fake_in_real |= (d <= real_radii[begin : begin + batch, None]).any(axis=0)
        real_in_fake[begin : begin + batch] = (d <= fake_radii[None, :]).any(axis=1)
    return float(fake_in_real.mean()), float(real_in_fake.mean())
