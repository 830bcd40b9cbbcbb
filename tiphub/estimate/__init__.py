"""Measure the hidden: Multiple Systems Estimation and illicit-profit estimates.

    >>> from tiphub.estimate import read_capture_table, estimate
    >>> result = estimate(read_capture_table("UKdat.csv"), "stepwise")   # doctest: +SKIP
    >>> print(result.summary())                                          # doctest: +SKIP

Modules: ``table`` (input), ``loglinear`` (fits, −∞ terms, existence codes), ``selection``
(stepwise, AIC-stepwise, BIC), ``intervals`` (log-normal, profile, BCa), ``lcmcr``
(Bayesian latent classes), ``api`` (one entry point, strata), ``results`` (the results
object), ``report`` (robustness report and charts), ``recommend`` (which figure to report:
a simulation check of the methods and BIC model averaging), ``profits`` (illicit profits).
"""

from tiphub.estimate.api import METHODS, apply_list_changes, check_model, estimate, estimate_strata
from tiphub.estimate.loglinear import EstimationError, existence_code, fit_loglinear
from tiphub.estimate.results import MSEResult
from tiphub.estimate.table import (
    CaptureTable,
    CaptureTableError,
    read_capture_csv,
    read_capture_table,
)

__all__ = [
    "METHODS",
    "CaptureTable",
    "CaptureTableError",
    "EstimationError",
    "MSEResult",
    "apply_list_changes",
    "check_model",
    "estimate",
    "estimate_strata",
    "existence_code",
    "fit_loglinear",
    "read_capture_csv",
    "read_capture_table",
]
