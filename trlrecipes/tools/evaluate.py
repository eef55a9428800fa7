"""TEMPORARY alias of trlrecipes.tools.eval.pairs while a parallel change lands."""

from trlrecipes.tools.eval.pairs import evaluate_run, save_metrics  # noqa: F401
