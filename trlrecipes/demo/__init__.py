"""The demo preference set shipped with trlrecipes: hh-rlhf-style pairs written for this project (Apache-2.0).

See README.md in this folder for what it contains and how it was measured; `build_demo_data.py` regenerates it.
"""

from pathlib import Path

_HERE = Path(__file__).parent
DEMO_TRAIN = _HERE / "train.jsonl"
DEMO_TEST = _HERE / "test.jsonl"
# Questions from the held-out (test-only) topics, answered before and after training to show the change.
DEMO_PROMPTS = (
    "How do I fix a flat bike tire?",
    "Why does it feel colder when it's windy?",
    "Is it safe to drink water from a stream?",
)
