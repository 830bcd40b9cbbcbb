"""Row IDs: time-ordered version 7 UUIDs, unique across a fork."""

from __future__ import annotations

import os
import uuid

from tiphub.store.models import new_id


def test_ids_are_version_7_unique_and_time_ordered() -> None:
    ids = [new_id() for _ in range(5_000)]
    assert len(set(ids)) == len(ids)
    assert all(value.version == 7 and value.variant == uuid.RFC_4122 for value in ids)
    assert ids == sorted(ids)


def test_a_forked_child_does_not_repeat_its_parents_random_bits() -> None:
    new_id()  # the parent now holds a buffer of random bits
    reading, writing = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(reading)
        os.write(writing, "\n".join(str(new_id()) for _ in range(50)).encode())
        os._exit(0)
    os.close(writing)
    with os.fdopen(reading) as pipe:
        from_child = {uuid.UUID(line) for line in pipe.read().split()}
    os.waitpid(child, 0)
    from_parent = {new_id() for _ in range(50)}
    random_part = (1 << 62) - 1
    assert len(from_child) == 50
    assert not {value.int & random_part for value in from_child} & {
        value.int & random_part for value in from_parent
    }
