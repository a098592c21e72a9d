"""Seed files for tests/fuzz/fuzz_model_file: small valid model files of every kind.

    python tests/fuzz/make_corpus.py DIRECTORY

Every strategy, float32 and float64, integer and string labels, two and four classes, with
and without feature names; a few features each, so the files stay under libFuzzer's default
maximum input length. One more model has coefficients so large that its scores overflow, which
prediction must refuse rather than answer with infinities.
"""

import io
import pathlib
import sys

import numpy as np
from sklearn.datasets import make_classification

import multilogit

try:
    import pandas as pd
except ImportError:  # seeds without feature names then
    pd = None


def main(directory):
    out = pathlib.Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    X, y = make_classification(n_samples=80, n_features=3, n_informative=3, n_redundant=0,
                               n_classes=4, n_clusters_per_class=1, random_state=0)
    labels = {"int": np.array([-7, 0, 3, 2**40]), "str": np.array(["a", "bb", "\u00e9", "\u20ac"])}
    count = 0
    for strategy in ("softmax", "ovr", "ovo"):
        for dtype in (np.float32, np.float64):
            for kind, names in labels.items():
                for n_classes in (2, 4):
                    keep = y < n_classes
                    Xk = X[keep].astype(dtype)
                    if count % 2 and pd is not None:  # every other file carries feature names
                        Xk = pd.DataFrame(Xk, columns=["x", "y\u00b2", ""])
                    est = multilogit.LogisticRegression(strategy, max_iter=50, tol=1e-3)
                    est.fit(Xk, names[y[keep]])
                    buffer = io.BytesIO()
                    est.save(buffer)
                    name = f"{strategy}-{np.dtype(dtype).name}-{kind}-{n_classes}.mlogit"
                    (out / name).write_bytes(buffer.getvalue())
                    count += 1
    est = multilogit.LogisticRegression("softmax", max_iter=50, tol=1e-3).fit(X, y)
    est.coef_[:] = 1e308  # finite, but any score summing two such terms overflows
    buffer = io.BytesIO()
    est.save(buffer)
    (out / "softmax-float64-overflow.mlogit").write_bytes(buffer.getvalue())
    count += 1
    print(f"wrote {count} seed files to {out}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
