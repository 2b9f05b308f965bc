"""Registers the claims harness and the shared experiment fixtures; nothing else."""
pytest_plugins = [
    "harness.plugin",
]
