"""monviz.heap: the texts of values, objects by identity, and that none of it runs user code."""

from __future__ import annotations

import collections
import gc
import weakref

from monviz.heap import MAX_ITEMS, Heap, ref, resolve, tags_in


def new_heap() -> tuple[Heap, list[str]]:
    texts: list[str] = []
    index: dict[str, int] = {}

    def intern(text: str) -> int:
        if text not in index:
            index[text] = len(texts)
            texts.append(text)
        return index[text]

    heap = Heap(intern)
    heap.point = 0
    return heap, texts


def shown(heap: Heap, texts: list[str], value) -> str:
    return resolve(heap.text_of(value), lambda tag: texts[heap.texts[tag]])


def test_immutable_values_are_their_repr():
    heap, _texts = new_heap()
    for value in (0, -5, 2**100, 1.5, True, None, "it's", b"\x00", 3j, (1, "a"), (1,), (),
                  frozenset(), range(3)):
        assert heap.text_of(value) == repr(value)
    assert heap.objects == []


def test_long_strings_and_containers_are_cut():
    heap, texts = new_heap()
    assert heap.text_of("x" * 1000).endswith("...")
    assert len(heap.text_of("x" * 1000)) < 100
    big = list(range(10_000))
    assert shown(heap, texts, big) == repr(big[:MAX_ITEMS])[:-1] + ", ...]"


def test_a_mutable_container_is_a_reference_to_an_object():
    heap, texts = new_heap()
    xs = [1, 2]
    text = heap.text_of(xs)
    assert text == ref(0) and tags_in(text) == [0]
    assert texts[heap.texts[0]] == "[1, 2]"
    assert heap.text_of(xs) == text  # same object, same tag


def test_nested_containers_are_objects_of_their_own():
    heap, texts = new_heap()
    inner = [1]
    outer = [inner, inner]
    assert shown(heap, texts, outer) == "[[1], [1]]"
    assert tags_in(texts[heap.texts[heap.tag_of[id(outer)]]]) == [1, 1]


def test_a_mutation_seen_at_a_later_point_is_a_change_of_the_object():
    heap, texts = new_heap()
    xs = [1]
    heap.text_of(xs)
    xs.append(2)
    heap.text_of(xs)  # same point: walked once, not again
    heap.point = 1
    heap.text_of(xs)
    changes = [tuple(heap.changes[j:j + 3]) for j in range(0, len(heap.changes), 3)]
    assert [(p, tag, texts[t]) for p, tag, t in changes] == [(0, 0, "[1]"), (1, 0, "[1, 2]")]


def test_an_object_inside_itself_shows_as_ellipsis():
    heap, texts = new_heap()
    xs = [1]
    xs.append(xs)
    assert shown(heap, texts, xs) == "[1, [...]]"


def test_dicts_sets_deques_keep_pythons_order_and_punctuation():
    heap, texts = new_heap()
    assert shown(heap, texts, {"b": 1, "a": [2]}) == "{'b': 1, 'a': [2]}"
    assert shown(heap, texts, {3, 1}) == repr({3, 1})
    assert shown(heap, texts, set()) == "set()"
    assert shown(heap, texts, collections.deque([1, 2])) == "deque([1, 2])"
    assert shown(heap, texts, collections.Counter("aab")) == "Counter({'a': 2, 'b': 1})"
    assert shown(heap, texts, bytearray(b"hi")) == "bytearray(b'hi')"


def test_functions_classes_and_modules_are_named_not_repred():
    heap, _texts = new_heap()

    def f():
        pass

    assert heap.text_of(f) == f"<function {f.__qualname__}>"
    assert heap.text_of(int) == "<class 'int'>"
    assert heap.text_of(collections) == "<module 'collections'>"
    assert heap.text_of(len) == "<function len>"
    assert heap.text_of(ValueError("no", 3)) == "ValueError('no', 3)"


class Spy:
    """Every way of running code while being looked at, counted."""

    calls = 0
    __slots__ = ("__dict__", "__weakref__")

    def __init__(self):
        self.x = 1
        self.items = [1, 2]

    def __repr__(self):
        Spy.calls += 1
        return "spied"

    def __str__(self):
        Spy.calls += 1
        return "spied"

    def __getattr__(self, name):
        Spy.calls += 1
        raise AttributeError(name)

    def __eq__(self, other):
        Spy.calls += 1
        return False

    __hash__ = object.__hash__

    def __len__(self):
        Spy.calls += 1
        return 0

    @property
    def prop(self):
        Spy.calls += 1
        return 0

    @property
    def __class__(self):  # isinstance(value, ...) would read this
        Spy.calls += 1
        return Spy


def test_an_instance_is_shown_from_its_dict_running_none_of_its_code():
    heap, texts = new_heap()
    Spy.calls = 0
    spy = Spy()
    assert shown(heap, texts, spy) == "Spy(x=1, items=[1, 2])"
    # three objects deep at most (MAX_DEPTH): the list inside the dict inside the list is cut
    assert (shown(heap, texts, [spy, {spy: spy}])
            == "[Spy(x=1, items=[1, 2]), {Spy(x=1, items=[...]): Spy(x=1, items=[...])}]")
    assert Spy.calls == 0


class Slotted:
    __slots__ = ("a",)

    def __repr__(self):
        raise RuntimeError("never called")


def test_other_objects_show_their_type_only():
    heap, _texts = new_heap()
    assert heap.text_of(Slotted()) == "<Slotted object>"
    assert heap.text_of(iter([])) == "<list_iterator object>"


def test_the_heap_lets_go_of_an_object_no_text_refers_to():
    heap, _texts = new_heap()
    spy = Spy()
    alive = weakref.ref(spy)
    tags = tags_in(heap.text_of(spy))
    heap.hold(tags)
    del spy
    gc.collect()
    assert alive() is not None  # held: its tag must not be reused for another object
    heap.let_go(tags)
    gc.collect()
    assert alive() is None
    assert heap.tag_of == {}


def test_monvizs_own_objects_are_not_walked():
    import monviz

    heap, _texts = new_heap()
    assert heap.text_of(monviz.Recorder()) == "<monviz.Recorder object>"
