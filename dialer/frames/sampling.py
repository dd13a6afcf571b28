"""
Stratified random sampling by unit, pure.

Allocation decides how many numbers each unit (stratum) gets; L{draw} picks them with
the C{random.Random} passed in, so the same frame and seed give the same sample. A
number drawn for one unit is not drawn again for another (the same citizen is not
called twice in one campaign). A unit with too few numbers is reported, never
silently short.

Allocations:
 - C{equal}: the same size per unit (C{per_unit}, or C{size} split evenly);
 - C{proportional}: C{size} split in proportion to each unit's frame (largest remainder);
 - C{precision}: per unit, the size that gives a margin of error C{margin} at 95 %
   for an expected proportion C{p}, with the finite population correction:
   C{n0 = z^2 p (1-p) / e^2}, C{n = n0 / (1 + (n0 - 1) / N)}, rounded up.

test-case-name: tests.frames.test_sampling
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

ALLOCATIONS = ("equal", "proportional", "precision")
Z95 = 1.959963984540054


@dataclass(frozen=True)
class Allocation:
    """Wanted size per unit, and the units whose frame cannot give it."""

    wanted: dict[str, int]
    population: dict[str, int]

    @property
    def short(self) -> dict[str, tuple[int, int]]:
        """Unit -> (wanted, available) where the frame is too small."""
        return {
            u: (n, self.population[u]) for u, n in self.wanted.items() if n > self.population[u]
        }


def precision_size(population: int, margin: float, p: float, z: float = Z95) -> int:
    """Sample size for margin C{margin} at proportion C{p} in a stratum of C{population}."""
    if not 0 < margin < 1 or not 0 < p < 1:
        raise ValueError("margin and p must be between 0 and 1")
    if population <= 0:
        return 0
    n0 = z * z * p * (1 - p) / (margin * margin)
    return min(population, math.ceil(n0 / (1 + (n0 - 1) / population) - 1e-9))


def margin_of_error(n: int, population: int, p: float, z: float = Z95) -> float:
    """The margin a sample of C{n} from C{population} gives at proportion C{p} (FPC applied)."""
    if n <= 0:
        return math.inf
    fpc = (population - n) / (population - 1) if population > 1 else 0.0
    return z * math.sqrt(p * (1 - p) / n * fpc)


def allocate(
    population: Mapping[str, int],
    allocation: str,
    *,
    size: int | None = None,
    per_unit: int | None = None,
    margin: float = 0.03,
    p: float = 0.9,
) -> Allocation:
    """How many numbers each unit should give; see the module docstring."""
    pop = dict(population)
    units = sorted(pop)
    if allocation == "equal":
        if per_unit is None:
            if size is None:
                raise ValueError("equal allocation needs --size or --per-unit")
            base, extra = divmod(size, len(units)) if units else (0, 0)
            wanted = {u: base + (1 if i < extra else 0) for i, u in enumerate(units)}
        else:
            wanted = dict.fromkeys(units, per_unit)
    elif allocation == "proportional":
        if size is None or per_unit is not None:
            raise ValueError("proportional allocation needs --size (not --per-unit)")
        wanted = _largest_remainder(pop, size)
    elif allocation == "precision":
        if size is not None or per_unit is not None:
            raise ValueError(
                "precision allocation takes --margin and --expected-p, not --size/--per-unit"
            )
        wanted = {u: precision_size(pop[u], margin, p) for u in units}
    else:
        raise ValueError(f"unknown allocation {allocation!r}: one of {', '.join(ALLOCATIONS)}")
    return Allocation(wanted, pop)


def _largest_remainder(pop: Mapping[str, int], size: int) -> dict[str, int]:
    total = sum(pop.values())
    if total == 0:
        return dict.fromkeys(pop, 0)
    quotas = {u: size * n / total for u, n in pop.items()}
    wanted = {u: math.floor(q) for u, q in quotas.items()}
    left = size - sum(wanted.values())
    for u in sorted(pop, key=lambda u: (-(quotas[u] - wanted[u]), u))[:left]:
        wanted[u] += 1
    return wanted


@dataclass
class Sample:
    """Drawn contact ids per unit (in draw order) and the shortfalls."""

    members: dict[str, list[int]] = field(default_factory=dict)
    short: dict[str, tuple[int, int]] = field(default_factory=dict)  # unit -> (wanted, drawn)


def draw(
    frame: Mapping[str, Sequence[tuple[int, str]]],
    wanted: Mapping[str, int],
    rng: random.Random,
) -> Sample:
    """
    Draw C{wanted[u]} contacts from C{frame[u]} (C{(contact id, number)} pairs) per unit.

    Units are visited in sorted order, each stratum in contact-id order, so the result
    depends only on the frame, the sizes and the generator's state.
    """
    sample = Sample()
    taken: set[str] = set()
    for unit in sorted(wanted):
        k = wanted[unit]
        candidates = sorted(frame.get(unit, ()))
        order = list(range(len(candidates)))
        rng.shuffle(order)
        chosen: list[int] = []
        for i in order:
            if len(chosen) >= k:
                break
            contact_id, number = candidates[i]
            if number in taken:
                continue
            taken.add(number)
            chosen.append(contact_id)
        sample.members[unit] = chosen
        if len(chosen) < k:
            sample.short[unit] = (k, len(chosen))
    return sample
