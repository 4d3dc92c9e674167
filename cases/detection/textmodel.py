"""The built-in text model: the calibrated linear classifier that `alt-profanity-check` ships in its wheel.

Its own `predict_prob` goes through scikit-learn's CalibratedClassifierCV (five folds, each a LinearSVC with a
sigmoid calibrator): about 6 ms a text, nearly all of it per-call overhead. The same arithmetic done directly —
one sparse matrix product for all folds, then the five sigmoids, averaged — gives the same probabilities
(tests compare them to the library's) in a small fraction of that.
"""

import threading

import numpy as np

_lock = threading.Lock()
_model: "TextModel | None" = None


class TextModel:
    def __init__(self) -> None:
        from profanity_check import profanity_check as reference

        calibrated = reference.model
        if calibrated.method != "sigmoid" or list(calibrated.classes_) != [0, 1]:
            raise RuntimeError("unexpected alt-profanity-check model; update cases/detection/textmodel.py")
        folds = calibrated.calibrated_classifiers_
        self.vectorizer = reference.vectorizer
        self.coef = np.vstack([fold.estimator.coef_[0] for fold in folds]).T  # features x folds
        self.intercept = np.array([fold.estimator.intercept_[0] for fold in folds])
        self.a = np.array([fold.calibrators[0].a_ for fold in folds])
        self.b = np.array([fold.calibrators[0].b_ for fold in folds])

    def scores(self, texts: list[str]) -> list[float]:
        """Probability that each text is profane or offensive, 0..1."""
        decision = self.vectorizer.transform(texts) @ self.coef + self.intercept  # texts x folds
        probability = 1.0 / (1.0 + np.exp(self.a * decision + self.b))  # sklearn's _SigmoidCalibration
        return [float(p) for p in np.asarray(probability).mean(axis=1)]


def text_model() -> TextModel:
    """Loaded on first use (about 2 s) and kept for the life of the process."""
    global _model
    if _model is None:
        with _lock:
            if _model is None:
                _model = TextModel()
    return _model
