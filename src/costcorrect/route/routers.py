"""Routers that learn from per-query outcomes (scikit-learn's fit/predict shape).

- :class:`LogisticRouter` predicts each option's probability of a correct answer from the
  prompt text (TF-IDF words and bigrams plus length and digit counts; one logistic model per
  option); :func:`route_by_price` sends each query to argmin expected cost − λ·P(correct),
  with the price λ of a correct answer from :func:`fit_price` (Dinkelbach's iteration on
  cross-fitted training predictions).

  Reproducible across CPUs and thread counts: the vocabulary's frequency cut breaks ties by
  the term (:class:`TopTerms`; scikit-learn's ``max_features`` cut breaks them by an unstable
  argsort, whose tie order depends on the SIMD code — AVX-512, AVX2, baseline — numpy's sort
  dispatches to on the CPU), and each logistic model is solved to its unique optimum
  (Newton-CG to a gradient of 1e-10) instead of stopping wherever L-BFGS reaches its default
  tolerance (up to 0.02 from the optimum in P(correct) on MMLU).
- :func:`cascade_choice` runs the cheapest option and escalates to the most accurate one when a
  self-verification signal rejects the answer.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from costcorrect.route.outcomes import Outcomes, cost_per_correct, fixed_choice, price_choice

#: Newton-CG's stopping gradient: far below any printed digit, so the fit is the optimum's
SOLVER_TOL = 1e-10


class TopTerms(TransformerMixin, BaseEstimator):
    """TF-IDF (sublinear) of the ``max_features`` most frequent words and bigrams seen in two
    or more texts; equal counts are ranked by the term, so the vocabulary is the same on every
    CPU."""

    def __init__(self, max_features: int = 20000) -> None:
        self.max_features = max_features

    def fit(self, texts: np.ndarray, y: None = None) -> TopTerms:
        from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

        counts = CountVectorizer(ngram_range=(1, 2), min_df=2)
        totals = np.asarray(counts.fit_transform(texts).sum(axis=0)).ravel()
        terms = counts.get_feature_names_out()  # in term order
        keep = np.sort(np.argsort(-totals, kind="stable")[: self.max_features])
        self.tfidf_ = TfidfVectorizer(
            ngram_range=(1, 2), sublinear_tf=True, vocabulary=terms[keep]
        ).fit(texts)
        return self

    def transform(self, texts: np.ndarray):
        return self.tfidf_.transform(texts)


def _features(max_features: int):
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    def numeric(texts):
        texts = np.asarray(texts, dtype=object).ravel()
        return np.column_stack(
            [
                np.log1p([len(t) for t in texts]),
                np.log1p([sum(ch.isdigit() for ch in t) for t in texts]),
            ]
        )

    return ColumnTransformer(
        [
            ("words", TopTerms(max_features), 0),
            ("shape", make_pipeline(FunctionTransformer(numeric), StandardScaler()), [0]),
        ]
    )


class LogisticRouter:
    """P(correct) per option from prompt text (one logistic model per option)."""

    def __init__(
        self, strength: float = 1.0, max_features: int = 20000, folds: int = 5, seed: int = 0
    ) -> None:
        self.strength = strength
        self.max_features = max_features
        self.folds = folds
        self.seed = seed

    def _model(self):
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline

        return make_pipeline(
            _features(self.max_features),
            LogisticRegression(C=self.strength, solver="newton-cg", tol=SOLVER_TOL, max_iter=100),
        )

    def _fit_predict(self, train: np.ndarray, labels: np.ndarray, test: np.ndarray) -> np.ndarray:
        """P(correct) on ``test`` of one option, from binary ``labels`` on ``train``."""
        if labels.min() == labels.max():
            return np.full(len(test), float(labels[0]))
        model = self._model().fit(train[:, None], labels)
        return model.predict_proba(test[:, None])[:, 1]

    def _predict_all(self, train: np.ndarray, correct: np.ndarray, test: np.ndarray):
        labels = correct >= 0.5
        return np.column_stack(
            [self._fit_predict(train, labels[:, k], test) for k in range(correct.shape[1])]
        )

    def fit(self, texts, correct: np.ndarray) -> LogisticRouter:
        """Fit on ``texts`` with per-option ``correct`` (queries × options); ``crossfit_``
        holds each training query's prediction by models that did not see it."""
        texts = np.asarray(texts, dtype=object)
        correct = np.asarray(correct, dtype=float)
        fold = np.random.default_rng(self.seed).permutation(len(texts)) % self.folds
        crossfit = np.empty(correct.shape)
        for f in range(self.folds):
            held = fold == f
            crossfit[held] = self._predict_all(texts[~held], correct[~held], texts[held])
        self.crossfit_ = crossfit
        self.texts_, self.correct_ = texts, correct
        return self

    def predict_correct(self, texts) -> np.ndarray:
        """P(correct) per query and option."""
        return self._predict_all(self.texts_, self.correct_, np.asarray(texts, dtype=object))


def route_by_price(expected_cost: np.ndarray, predicted: np.ndarray, price: float) -> np.ndarray:
    """Per query the option minimising expected cost − λ·P(correct)."""
    return price_choice(np.broadcast_to(expected_cost, predicted.shape), predicted, price)


def fit_price(outcomes: Outcomes, predicted: np.ndarray, iterations: int = 50) -> float:
    """The price λ of a correct answer for routing on ``predicted`` P(correct): Dinkelbach's
    iteration λ ← realised cost per correct of routing at λ, from the fixed policy's."""
    expected_cost = outcomes.cost.mean(axis=0)
    price = cost_per_correct(outcomes, fixed_choice(outcomes))
    for _ in range(iterations):
        new = cost_per_correct(outcomes, route_by_price(expected_cost, predicted, price))
        if not new < price * (1 - 1e-9):
            break
        price = new
    return price


def cascade_choice(outcomes: Outcomes, accepted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(choice, overhead per query) of a cascade: the cheapest option answers, and where
    ``accepted`` is 0 the most accurate one answers instead; the discarded cheap answer is the
    overhead."""
    cheap = int(np.argmin(outcomes.cost.mean(axis=0)))
    best = int(np.argmax(outcomes.correct.mean(axis=0)))
    escalate = np.asarray(accepted) == 0
    choice = np.where(escalate, best, cheap)
    return choice, np.where(escalate, outcomes.cost[:, cheap], 0.0)
