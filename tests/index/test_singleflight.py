"""SingleFlight: one computation per key, shared by concurrent callers and later ones."""

from __future__ import annotations

import threading

import pytest

from constrain.index.pages.singleflight import SingleFlight


def test_concurrent_callers_share_one_computation() -> None:
    flight = SingleFlight()
    started, release = threading.Event(), threading.Event()
    calls: list[int] = []

    def compute() -> object:
        calls.append(1)
        started.set()
        release.wait(5)
        return "value"

    got: list[object] = []
    owner = threading.Thread(target=lambda: got.append(flight.get("k", compute)))
    owner.start()
    assert started.wait(5)
    waiters = [threading.Thread(target=lambda: got.append(flight.get("k", compute)))
               for _ in range(3)]
    for t in waiters:
        t.start()
    release.set()
    for t in [owner, *waiters]:
        t.join(5)
    assert got == ["value"] * 4
    assert calls == [1]
    assert flight.get("k", lambda: "other") == "value"
    assert "k" in flight and flight.started() == ["k"]


def test_an_error_is_remembered_for_every_caller() -> None:
    flight = SingleFlight()
    calls: list[int] = []

    def compute() -> object:
        calls.append(1)
        raise ValueError("broken")

    for _ in range(2):
        with pytest.raises(ValueError, match="broken"):
            flight.get("k", compute)
    assert calls == [1]


def test_an_interrupt_is_not_remembered_and_a_waiter_computes_afresh() -> None:
    flight = SingleFlight()
    started, release = threading.Event(), threading.Event()

    def interrupted() -> object:
        started.set()
        release.wait(5)
        raise KeyboardInterrupt

    errors: list[BaseException] = []

    def owner() -> None:
        try:
            flight.get("k", interrupted)
        except BaseException as exc:  # the owner's own interrupt
            errors.append(exc)

    got: list[object] = []
    first = threading.Thread(target=owner)
    first.start()
    assert started.wait(5)
    waiter = threading.Thread(target=lambda: got.append(flight.get("k", lambda: "afresh")))
    waiter.start()
    release.set()
    first.join(5)
    waiter.join(5)
    assert len(errors) == 1 and isinstance(errors[0], KeyboardInterrupt)
    assert got == ["afresh"]
    assert flight.get("k", lambda: "again") == "afresh"
