"""TEMPORARY alias of trlrecipes.run.recipes while a parallel change lands."""

from trlrecipes.run.recipes import *  # noqa: F401,F403
from trlrecipes.run.recipes import resolve_recipe  # noqa: F401
