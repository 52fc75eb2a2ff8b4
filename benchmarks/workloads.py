"""Workloads for the recording benchmark: small, deterministic, each a different event mix.

Each ``run_*`` function is one unit of work; the benchmark calls it under
every configuration. Sizes aim at 100,000-350,000 events each (enough for stable
per-event figures; ~1-10 ms untraced on the project's 2-core machines).
"""

from __future__ import annotations

import difflib
import random
from fractions import Fraction


def fib(n):
    if n < 2:
        return n
    return fib(n - 1) + fib(n - 2)


def run_fib():
    """Call-dense: PY_START/PY_RETURN/CALL on every call."""
    return fib(20)


def count_primes(n):
    count = 0
    for i in range(2, n):
        for j in range(2, int(i**0.5) + 1):
            if i % j == 0:
                break
        else:
            count += 1
    return count


def run_branchy():
    """Loop- and branch-dense: LINE, BRANCH and JUMP."""
    return count_primes(6000)


def numbers(n):
    yield from range(n)


def squares(xs):
    for x in xs:
        yield x * x


def evens(xs):
    for x in xs:
        if x % 2 == 0:
            yield x


def run_pipeline():
    """Generators: PY_YIELD/PY_RESUME, comprehensions, STOP_ITERATION."""
    total = sum(evens(squares(numbers(12000))))
    table = {x: x + 1 for x in range(2000) if x % 3}
    return total + len([y for y in table.values() if y > 5])


class Particle:
    def __init__(self, x, v):
        self.x = x
        self.v = v

    def step(self, dt):
        self.x += self.v * dt
        if self.x < 0 or self.x > 100:
            self.bounce()

    def bounce(self):
        self.v = -self.v


def run_methods():
    """Method calls on small objects (and a little library code: random)."""
    rng = random.Random(1)
    particles = [Particle(rng.uniform(0, 100), rng.uniform(-5, 5)) for _ in range(40)]
    for _ in range(300):
        for p in particles:
            p.step(0.1)
    return sum(p.x for p in particles)


def fails(i):
    if i % 3 == 0:
        raise ValueError(i)
    return i


def run_exceptions():
    """Exceptions in a loop: RAISE, EXCEPTION_HANDLED, PY_UNWIND, C_RAISE, RERAISE."""
    caught = 0
    for i in range(4000):
        try:
            try:
                fails(i)
            finally:
                caught += 0
        except ValueError:
            caught += 1
        try:
            int("x" * (i % 3 + 1))
        except ValueError:
            caught += 1
    return caught


_TEXT_A = "".join(random.Random(2).choice("abcdefgh") for _ in range(4000))
_TEXT_B = "".join(random.Random(3).choice("abcdefgh") for _ in range(4000))


def run_library():
    """A cell whose time goes into library code (difflib, fractions): scope keeps it cheap."""
    ratio = difflib.SequenceMatcher(None, _TEXT_A, _TEXT_B).ratio()
    total = sum(map(Fraction, range(1, 4000), range(2, 4001)))
    return ratio, total


WORKLOADS = {
    "fib": run_fib,
    "branchy": run_branchy,
    "pipeline": run_pipeline,
    "methods": run_methods,
    "exceptions": run_exceptions,
}
