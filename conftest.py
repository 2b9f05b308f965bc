"""Registers the claims harness and every shared experiment module in fixtures/; nothing else."""
from pathlib import Path

pytest_plugins = ["harness.plugin"] + sorted(
    f"fixtures.{path.stem}" for path in (Path(__file__).parent / "fixtures").glob("*.py")
    if not path.stem.startswith("_")
)
