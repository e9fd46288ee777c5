"""The values a queue hands out: the receive path's fast constructor makes the same value."""

from __future__ import annotations

import dataclasses

import pytest

from eventbus._core._attributes import MessageAttributeValue
from eventbus._core._message import ReceivedMessage, received_message

FIELDS = (
    "id-1",
    "handle-1",
    "body",
    "841a2d689ad86bd1611447453c22c6fc",
    {"kind": MessageAttributeValue("String", string_value="created")},
    "0123456789abcdef0123456789abcdef",
    {"ApproximateReceiveCount": "1"},
    1,
)


def test_received_message_equals_the_dataclass_constructor() -> None:
    """Every field lands in its own place: the value equals ReceivedMessage(...)."""
    fast = received_message(*FIELDS)

    assert ReceivedMessage(*FIELDS) == fast
    assert type(fast) is ReceivedMessage
    assert FIELDS == tuple(getattr(fast, f.name) for f in dataclasses.fields(ReceivedMessage))
    assert repr(ReceivedMessage(*FIELDS)) == repr(fast)


def test_received_message_is_as_frozen_as_the_dataclass() -> None:
    """No field can be set or deleted afterwards; replace() makes a new value."""
    fast = received_message(*FIELDS)

    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.body = "changed"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del fast.receipt_handle
    assert "changed" == dataclasses.replace(fast, body="changed").body
    assert "body" == fast.body
