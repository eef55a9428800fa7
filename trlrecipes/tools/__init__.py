"""What you do around a run: plan its memory, evaluate, generate, merge, synthesize pairs."""
