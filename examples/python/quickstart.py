"""Train the three multilogit strategies on scikit-learn's digits and compare them.

Run as it is:  python examples/python/quickstart.py
"""

from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import multilogit

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)

for strategy in ("softmax", "ovr", "ovo"):
    model = make_pipeline(
        StandardScaler(), multilogit.LogisticRegression(strategy=strategy, C=1.0, max_iter=1000)
    )
    model.fit(X_train, y_train)
    classifier = model[-1]
    print(
        f"{strategy:8s} test accuracy {model.score(X_test, y_test):.4f}  "
        f"coef_ {classifier.coef_.shape}  solver iterations {int(classifier.n_iter_.sum())}"
    )

# Probabilities for the first test digit, one column per class in classes_.
print(model.predict_proba(X_test[:1]).round(3))
