"""`casegrid serve` freezes its heap before serving (adapters/http/heap.py): what exists
then is out of the garbage collector's full passes, what comes later is collected."""

from __future__ import annotations

import gc

from adapters.http.heap import freeze_heap


class Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the cyclic collector frees it


def test_freeze_moves_the_live_heap_out_and_later_cycles_are_still_collected():
    keep = [Node() for _ in range(100)]
    try:
        frozen = freeze_heap()
        assert frozen == gc.get_freeze_count() > 100
        assert not any(o is keep for o in gc.get_objects())  # no generation holds it now
        before = gc.get_count()[0]
        for _ in range(50):
            Node()  # new garbage cycles
        assert gc.get_count()[0] >= before  # tracked as usual
        assert gc.collect() >= 50  # and collected
    finally:
        gc.unfreeze()
