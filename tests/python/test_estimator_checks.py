"""scikit-learn's estimator API checks, for each strategy."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from multilogit import LogisticRegression

ESTIMATORS = [LogisticRegression(strategy) for strategy in ("softmax", "ovr", "ovo")]

# Checks known to fail, with the reason; keep this empty unless a failure is understood and
# accepted. (Checks that need pandas are skipped by scikit-learn itself when it is missing.)
EXPECTED_FAILED_CHECKS = {}


def _expected_failed_checks(estimator):
    return EXPECTED_FAILED_CHECKS.get(estimator.strategy, {})


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
