"""TEMPORARY alias of trlrecipes.values while a parallel change lands (removed before the commit that ends it)."""

from trlrecipes.values import coerce, is_secret, shown, suggest  # noqa: F401
