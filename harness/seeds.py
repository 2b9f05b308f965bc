"""Master seed -> per-test seed -> explicit generators. No global RNG state anywhere.

A seed is a hash of (master seed, key, replicate), where the key is the test's node id
for per-test draws, or a fixed name for an experiment that several tests share. Hashing
(not sequential draws) makes every test's seed independent of which other tests ran,
of their order, and of how pytest-xdist distributed them.
"""
from __future__ import annotations

import hashlib

import numpy as np
import torch

DEFAULT_MASTER_SEED = 20221206


def derive_seed(master: int, key: str, replicate: int = 0) -> int:
    """A 63-bit seed from (master, key, replicate), stable across runs and platforms."""
    digest = hashlib.blake2b(f"{int(master)}|{key}|{int(replicate)}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "little") >> 1


class Seeds:
    """Generators for one key (a test node id, or a shared experiment's name)."""

    def __init__(self, master: int, key: str):
        self.master = int(master)
        self.key = key

    def seed(self, replicate: int = 0) -> int:
        return derive_seed(self.master, self.key, replicate)

    def torch(self, replicate: int = 0, device: torch.device | str = "cpu") -> torch.Generator:
        gen = torch.Generator(device=device)
        gen.manual_seed(self.seed(replicate))
        return gen

    def numpy(self, replicate: int = 0) -> np.random.Generator:
        return np.random.default_rng(self.seed(replicate))

    def child(self, name: str) -> "Seeds":
        """Seeds for a named part of this experiment (e.g. 'data', 'init')."""
        return Seeds(self.master, f"{self.key}/{name}")
