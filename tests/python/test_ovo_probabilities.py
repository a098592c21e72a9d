"""One-vs-one probabilities by pairwise coupling (Wu, Lin & Weng 2004, second method).

The reference solves the paper's linear system directly: p minimises
sum_i sum_{j != i} (r_ji p_i - r_ij p_j)^2 subject to sum_i p_i = 1, i.e.

    [Q  e] [p]   [0]
    [e' 0] [b] = [1],   Q_ii = sum_{s != i} r_si^2,  Q_ij = -r_ji r_ij,

where r_ij estimates P(y = i | y in {i, j}); for pair (i, j), i < j, with score z (class j
positive) r_ji = sigmoid(z) and r_ij = 1 - r_ji.
"""

import numpy as np
import pytest
from scipy.special import expit
from sklearn.datasets import load_digits, load_iris
from sklearn.preprocessing import StandardScaler

from multilogit import LogisticRegression


def coupled_probabilities(pair_scores, n_classes):
    out = np.empty((pair_scores.shape[0], n_classes))
    for row, scores in enumerate(pair_scores):
        r = np.zeros((n_classes, n_classes))
        p = 0
        for i in range(n_classes):
            for j in range(i + 1, n_classes):
                r[j, i] = np.clip(expit(scores[p]), 1e-7, 1 - 1e-7)
                r[i, j] = 1 - r[j, i]
                p += 1
        system = np.zeros((n_classes + 1, n_classes + 1))
        for i in range(n_classes):
            for j in range(n_classes):
                if i != j:
                    system[i, i] += r[j, i] ** 2
                    system[i, j] = -r[j, i] * r[i, j]
        system[:n_classes, n_classes] = system[n_classes, :n_classes] = 1
        rhs = np.zeros(n_classes + 1)
        rhs[n_classes] = 1
        out[row] = np.linalg.solve(system, rhs)[:n_classes]
    return out


@pytest.mark.parametrize("load", [load_iris, load_digits])
def test_coupling_matches_the_papers_linear_system(load):
    X, y = load(return_X_y=True)
    X = StandardScaler().fit_transform(X)[::3]
    y = y[::3]
    model = LogisticRegression("ovo", max_iter=1000).fit(X, y)
    pair_scores = X @ model.coef_.T + model.intercept_
    expected = coupled_probabilities(pair_scores, len(model.classes_))
    proba = model.predict_proba(X)
    np.testing.assert_allclose(proba, expected, atol=1e-10)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-12)
    assert (proba >= 0).all()


def test_argmax_of_probabilities_agrees_with_votes_except_near_ties():
    X, y = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    model = LogisticRegression("ovo", max_iter=1000).fit(X, y)
    proba = model.predict_proba(X)
    predicted = model.predict(X)
    disagree = np.flatnonzero(model.classes_[proba.argmax(axis=1)] != predicted)
    # Votes and coupled probabilities are different summaries of the same pairwise scores; they
    # can disagree only where the vote is close: the top two vote totals within one vote.
    votes = np.floor(model.decision_function(X) + 0.5)
    top_two = np.sort(votes, axis=1)[:, -2:]
    assert np.all(top_two[disagree, 1] - top_two[disagree, 0] <= 1)
    assert disagree.size <= 0.01 * len(y)
