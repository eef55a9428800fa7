"""Verifiable tasks: prompts whose replies a program checks exactly, and the judges that check them.

A task module ships its prompts (deterministic, written for trlrecipes) and judges with the signature every judge
of trlrecipes takes: `fn(prompt, response, **fields) -> float`, where `fields` are the prompt row's other columns
(e.g. an instruction task's `constraints`), as TRL passes dataset columns to GRPO reward functions. Pure Python:
this layer imports nothing of trlrecipes but `options` and `errors`.
"""
