"""A run's path from the command line to a finished run folder: launch (CLI or a program run directly) -> config
resolution -> preflight -> the Run a program receives (session) -> the run folder and its checkpoints (folder) ->
interrupt/resume control (control)."""
