"""Seeds until decided: a group-sequential plan for drawing units in rounds.

An arm looks at its primaries after each round of units (seeds, inits) and stops as soon as
none is UNDECIDED, or at a cap declared in advance. Looking several times inflates the error
rates unless the looks are paid for: here by a fixed number of looks L, each run at alpha / L
(Bonferroni over looks: the repeated confidence intervals of Jennison & Turnbull at the
simplest boundary), so that over all looks "HOLDS at the floor" and "FAILS at the floor"
each happen with probability at most alpha. tests/test_sequential.py checks this by
simulation (effect exactly at the floor, no effect, 1.5 x the floor).
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, Sequence

METHOD = "Bonferroni over a fixed number of looks (repeated confidence intervals at alpha / L)"


@dataclasses.dataclass(frozen=True)
class Looks:
    """Cumulative units at each look; the last is the cap. Declared before running."""

    units: tuple[int, ...]

    def __post_init__(self) -> None:
        units = tuple(int(u) for u in self.units)
        if not units or units[0] < 2 or any(b <= a for a, b in zip(units, units[1:])):
            raise ValueError(f"looks must be increasing unit counts from at least 2, got "
                             f"{self.units!r}")
        object.__setattr__(self, "units", units)

    @classmethod
    def doubling(cls, first: int, cap: int) -> "Looks":
        """first, 2 first, 4 first, ... and the cap itself as the last look."""
        if cap < first:
            raise ValueError(f"cap {cap} is below the first look {first}")
        units = [first]
        while units[-1] * 2 < cap:
            units.append(units[-1] * 2)
        if units[-1] != cap:
            units.append(cap)
        return cls(tuple(units))

    @classmethod
    def fixed(cls, units: int) -> "Looks":
        """One look: a fixed sample, no sequential correction."""
        return cls((units,))

    @property
    def cap(self) -> int:
        return self.units[-1]

    def alpha(self, alpha: float) -> float:
        """The level of each look's tests and intervals."""
        return alpha / len(self.units)

    def describe(self, look: int) -> dict:
        return {"look": look + 1, "looks": len(self.units), "units": self.units[look],
                "schedule": list(self.units), "cap": self.cap, "method": METHOD}


def blocks_for(units: int, block: int) -> int:
    """Blocks of ``block`` units needed to reach ``units`` (a round adds whole blocks)."""
    return -(-units // block)


def take(values: Sequence, units: int):
    """The first ``units`` along the last axis (units are appended in block order)."""
    return values[..., :units]


def cached_blocks(disk_cache, name: str, config: dict, compute_block: Callable[[int], Any],
                  count: int) -> list:
    """Blocks 0 .. count - 1 of an experiment, each computed once by ``compute_block(i)``
    (which draws its own units from a seed derived from i) and cached on its own, so a later
    look adds blocks and reuses the earlier ones, and a rerun is identical. The cache key
    holds the code of ``compute_block``'s module, as for any cached experiment."""
    def one(i: int) -> Callable[[], Any]:
        compute = lambda: compute_block(i)
        compute.__module__ = compute_block.__module__
        return compute
    return [disk_cache.get_or_compute(f"{name}-block{i}", {**config, "block": i}, one(i))
            for i in range(count)]
