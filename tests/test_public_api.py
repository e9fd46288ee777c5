"""The public surface: the names of the contract exist and present as ``eventbus.X``."""

from __future__ import annotations

import eventbus

CONTRACT = {
    "Bus",
    "VirtualClock",
    "SystemClock",
    "RedrivePolicy",
    "EventBusError",
    "MessageAttributeValue",
    "Queue",
    "Topic",
    "Subscription",
    "Consumer",
}


def test_contract_names_are_exported() -> None:
    """Every name architecture.md section 3 promises is importable from eventbus."""
    missing = CONTRACT - set(eventbus.__all__)

    assert set() == missing


def test_exports_present_as_the_package() -> None:
    """Public classes show ``eventbus`` as their module, not a private one."""
    private = [
        name
        for name in eventbus.__all__
        if isinstance(getattr(eventbus, name), type)
        and getattr(eventbus, name).__module__ != "eventbus"
    ]

    assert [] == private


def test_every_error_carries_an_aws_code() -> None:
    """Each error class in eventbus.errors has its own non-empty code."""
    classes = [getattr(eventbus.errors, name) for name in eventbus.errors.__all__]
    codes = [cls.code for cls in classes if cls is not eventbus.EventBusError]

    assert len(codes) == len(set(codes))
    assert all(codes)
