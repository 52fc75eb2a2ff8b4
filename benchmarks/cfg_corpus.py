"""A big generated function for the control-flow-graph benchmark and tests.

``generated_function(lines=300)`` returns the source of one function,
``generated(n)``, of exactly ``lines`` lines: one chunk after another of
if/elif/else with and/or conditions, a ``for`` loop, a ``while`` loop with
``break``/``continue``/``else``, a ``try``/``except`` that sometimes catches, a
``match`` and a comprehension, with different constants in each chunk so the
compiler cannot fold anything. It is long enough that its jumps need
``EXTENDED_ARG``. ``generated(n)`` runs every chunk once and its loops about
``n`` times; it is deterministic.
"""

from __future__ import annotations

_CHUNK = """\
    for i in range(n):
        if i % 3 == {a} and total > {b}:
            total += 1
        elif i % 3 == {c} or total < -{b}:
            total -= 2
        else:
            total ^= i
    j = n
    while j > 0:
        j -= 1
        if j == {d}:
            break
        if j % 2:
            continue
        total += j
    else:
        total -= 1
    try:
        total += {b} // (total % {e})
    except ZeroDivisionError:
        total = -total
    match total % 4:
        case 0 | 1:
            total += {a}
        case x if x > {c}:
            total -= x
    vals = [k for k in range(total % 7) if k % 2]
    total += len(vals) if vals else -1
"""
_CHUNK_LINES = _CHUNK.count("\n")


def generated_function(lines: int = 300, name: str = "generated") -> str:
    """Source of ``def {name}(n):`` with exactly ``lines`` lines (at least 4)."""
    if lines < 4:
        raise ValueError("a generated function needs at least 4 lines")
    body = ["    total = 0\n"]
    k = 0
    while 1 + len(body) + _CHUNK_LINES + 1 <= lines:
        body.append(_CHUNK.format(a=k % 3, b=k + 5, c=(k + 1) % 3, d=k % 11 + 2, e=k % 5 + 2))
        body[-1:] = body[-1].splitlines(keepends=True)
        k += 1
    while 1 + len(body) + 1 < lines:
        body.append(f"    total += {len(body)}\n")
    return f"def {name}(n):\n" + "".join(body) + "    return total\n"


def compile_generated(lines: int = 300, name: str = "generated",
                      filename: str = "<monviz-generated>"):
    """The generated function, compiled under ``filename`` (a user pseudo-file)."""
    namespace: dict = {}
    exec(compile(generated_function(lines, name), filename, "exec", dont_inherit=True), namespace)
    return namespace[name]


#: One function per construct (if/elif, while/else, for/else with break and continue, nested
#: loops, try/except/else/finally, return in finally, with, match, and/or, conditional
#: expressions, assert, comprehensions, generators, async for/with), and ``drive()`` that
#: runs each of them along most of its paths. Used by tests/test_cfg.py and benchmarks/cfg.py.
CONSTRUCTS = '''
def if_elif_else(x):
    if x < 0:
        sign = -1
    elif x == 0:
        sign = 0
    else:
        sign = 1
    return sign


def rarely(x):
    if x == 12345:
        return "never"
    return "always"


def while_else(n, stop):
    total = 0
    while n > 0:
        n -= 1
        if n == stop:
            break
        total += n
    else:
        total = -total
    return total


def for_else(xs):
    found = None
    for x in xs:
        if x is None:
            continue
        if x < 0:
            found = x
            break
    else:
        found = 0
    return found


def nested_loops(rows):
    out = []
    for row in rows:
        for cell in row:
            if cell:
                out.append(cell)
            else:
                break
        j = 0
        while j < len(row):
            j += 2
            if j > 10:
                continue
    return out


def try_except(a, b):
    try:
        q = a / b
    except ZeroDivisionError:
        q = None
    except (TypeError, ValueError) as e:
        q = str(e)
    else:
        q = q * 2
    finally:
        a = 0
    return q


def return_in_finally(x):
    try:
        if x:
            raise ValueError(x)
        return 1
    finally:
        if x == 2:
            return 2


class CM:
    def __init__(self, swallow):
        self.swallow = swallow

    def __enter__(self):
        return 1

    def __exit__(self, *exc):
        return self.swallow


def with_block(cm, fail):
    with cm as v:
        if fail:
            raise KeyError(v)
        return v
    return None


class Point:
    __match_args__ = ("x", "y")

    def __init__(self, x, y):
        self.x, self.y = x, y


def match_all(cmd):
    match cmd:
        case []:
            return "empty"
        case [x]:
            return x
        case [x, y, *rest] if x == y:
            return rest
        case [x, *_]:
            return "many"
        case {"op": op, "arg": arg} if arg:
            return op
        case {"op": op}:
            return op + "!"
        case Point(x=0, y=y):
            return y
        case Point(x, y) if x > 0:
            return x + y
        case str() | bytes():
            return "text"
        case None:
            return None
        case _:
            return "other"


def and_or(a, b, c):
    if a and b or c:
        r = 1
    else:
        r = 0
    return (a or b) and c or r


def cond_expr(x):
    y = "big" if x > 10 else "small"
    z = x if x is not None else 0
    return y, z


def asserts(x):
    assert x is not None
    assert x >= 0, "negative"
    return x


def comprehensions(xs):
    evens = [x for x in xs if x % 2 == 0]
    squares = {x: x * x for x in xs if x}
    pairs = {x for x in xs for _ in range(2) if x > 1}
    big = sum(x for x in xs if x > 2)
    return evens, squares, pairs, big


def generator(n):
    for i in range(n):
        if i % 2:
            yield i
        else:
            yield -i
    yield from range(2)
    return n


def gen_throw():
    try:
        yield 1
    except ValueError:
        yield 2
    yield 3


class AIter:
    def __init__(self, n):
        self.n = n

    def __aiter__(self):
        return self

    async def __anext__(self):
        if self.n <= 0:
            raise StopAsyncIteration
        self.n -= 1
        return self.n


class ACM:
    async def __aenter__(self):
        return "in"

    async def __aexit__(self, *exc):
        return False


async def async_for_with(n):
    out = []
    async with ACM() as v:
        async for i in AIter(n):
            if i == 1:
                continue
            out.append(i)
        else:
            out.append(v)
    return out


def run_coro(coro):
    try:
        while True:
            coro.send(None)
    except StopIteration as stop:
        return stop.value


def lambdas_and_classes(xs):
    key = lambda x: -x if x else 0
    class Local:
        attr = [k for k in range(3)]

        def method(self):
            return self.attr
    return sorted(xs, key=key), Local().method()


def drive():
    for x in (-1, 0, 5):
        if_elif_else(x)
    rarely(1)
    while_else(5, 2)
    while_else(3, -1)
    for_else([1, None, -2, 3])
    for_else([None, 1])
    nested_loops([[1, 2, 0, 3], [], [4] * 30])
    for a, b in ((1, 2), (1, 0), ("x", 2), (None, 1)):
        try_except(a, b)
    for x in (0, 1, 2):
        try:
            return_in_finally(x)
        except ValueError:
            pass
    with_block(CM(False), False)
    with_block(CM(True), True)
    try:
        with_block(CM(False), True)
    except KeyError:
        pass
    for cmd in ([], [1], [2, 2, 3], [1, 2], {"op": "a", "arg": 1}, {"op": "b", "arg": 0},
                Point(0, 5), Point(2, 3), Point(-1, 0), "s", b"b", None, 3.5):
        match_all(cmd)
    for a, b, c in ((1, 1, 0), (0, 1, 1), (0, 0, 0), (1, 0, 0)):
        and_or(a, b, c)
    cond_expr(11)
    cond_expr(3)
    asserts(1)
    for bad in (None, -1):
        try:
            asserts(bad)
        except AssertionError:
            pass
    comprehensions([0, 1, 2, 3, 4])
    list(generator(3))
    g = gen_throw()
    next(g)
    g.throw(ValueError)
    list(g)
    g = gen_throw()
    next(g)
    g.close()
    run_coro(async_for_with(3))
    run_coro(async_for_with(0))
    lambdas_and_classes([3, 0, 1])
'''
