"""Kept for programs copied before trlrecipes 0.6: their `__main__` block imports `main_from_argv` from here.
New programs import it from `trlrecipes.run.execute` (see `trlrecipes cp dpo`)."""

from trlrecipes.run.execute import main_from_argv  # noqa: F401
