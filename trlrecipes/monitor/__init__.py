"""Watching training: the health callback (metrics.jsonl, live line, verdicts) and the metrics plot."""
