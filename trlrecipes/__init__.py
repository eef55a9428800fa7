"""trlrecipes: preference fine-tuning recipes (DPO, IPO, ORPO, KTO) on top of Hugging Face TRL.

Importing this package is cheap on purpose: torch, transformers and TRL are imported inside the functions
that need them, so `trlrecipes --help` and `trlrecipes ls` start instantly.
"""

__version__ = "0.1.0"
