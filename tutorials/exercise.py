"""Self-check cells for the tutorials: ``check(answer, expected, hint)``.

An exercise cell leaves ``answer = ...`` for the learner; the check cell after it
prints "not answered yet" plus the hint while the answer is ``...``, "correct"
when it is right, and raises an AssertionError with the hint when it is wrong —
so the notebooks run top to bottom unanswered (as CI runs them), and a wrong
answer is loud.
"""

from __future__ import annotations

from typing import Any


def check(answer: Any, expected: Any, hint: str) -> None:
    """Compare a learner's answer with the expected one."""
    if answer is ...:
        print(f"not answered yet — hint: {hint}")
        return
    if answer != expected:
        raise AssertionError(f"not quite: {answer!r}. Hint: {hint}")
    print("correct!")
