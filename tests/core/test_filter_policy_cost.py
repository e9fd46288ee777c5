"""The cost of matching one message is bounded whatever it holds (reliability issue).

A 256 KiB message can hold some 30,000 array elements, and a topic hundreds of
filtered subscriptions. Matching reads each of the message's values a bounded number
of times per publish (to sort them by type and to build the indexes the policies use),
however many policies look at them; each policy's condition is then one set lookup or
one binary search. These tests show that bound by counting the values read, not by
timing (the benchmark row "hostile 256 KiB message" measures the time).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from eventbus._core._attributes import MessageAttributeValue
from eventbus._core._filter_policy import FilterPolicy, PublishedMessage, compile_filter_policy

PASSES = 8
"""Passes over a key's values: sort by type (up to 4), strings sorted, reversed, lowered,
numbers sorted, addresses read: each at most once per publish."""


def every_operator(index: int) -> dict[str, Any]:
    """A policy on key ``a`` using every operator, different for each ``index``."""
    return {
        "a": [
            f"v{index}",
            index,
            {"prefix": f"zz{index}"},
            {"suffix": f"q{index}"},
            {"equals-ignore-case": f"Z{index}"},
            {"anything-but": [f"s{index}", "t"]},
            {"numeric": [">", index * 1000, "<", index * 1000 + 5]},
            {"cidr": f"10.{index % 256}.{index // 256}.0/24"},
        ]
    }


def hostile_values(count: int) -> list[Any]:
    """Distinct strings, IPv4 addresses and numbers, ``count`` in all."""
    third = count // 3
    return (
        [f"s{i:06d}" for i in range(third)]
        + [f"192.168.{(i // 256) % 256}.{i % 256}" for i in range(third)]
        + [i * 7 for i in range(count - 2 * third)]
    )


def visits(policies: list[FilterPolicy], attributes: dict[str, MessageAttributeValue]) -> int:
    """Values read one by one to match one message against ``policies``."""
    message = PublishedMessage(attributes, "")
    for policy in policies:
        policy.matches_message(message)
    return message.element_visits


def policies(count: int, make: Any = every_operator) -> list[FilterPolicy]:
    compiled = [compile_filter_policy(make(index)) for index in range(count)]
    assert all(policy is not None for policy in compiled)
    return [policy for policy in compiled if policy is not None]


@pytest.mark.parametrize("elements", [30, 30_000])
def test_each_value_is_read_a_bounded_number_of_times_whatever_the_policy_count(
    elements: int,
) -> None:
    """300 policies cost the message's values no more reads than 100 do: each index is
    built once, then only consulted."""
    array = MessageAttributeValue("String.Array", json.dumps(hostile_values(elements)))
    attributes = {"a": array}

    hundred = visits(policies(100), attributes)
    three_hundred = visits(policies(300), attributes)

    assert hundred == three_hundred
    assert three_hundred <= PASSES * elements


@pytest.mark.parametrize(
    ("make", "values"),
    [
        (
            lambda i: {"a": [{"prefix": f"zz{i}"}, {"suffix": f"q{i}"}]},
            [f"s{i:06d}" for i in range(32_000)],
        ),
        (
            lambda i: {"a": [{"equals-ignore-case": f"Z{i}"}]},
            [f"s{i:06d}" for i in range(32_000)],
        ),
        (
            lambda i: {"a": [{"cidr": f"10.{i}.0.0/16"}]},
            [f"192.168.{(i // 256) % 256}.{i % 256}" for i in range(21_000)],
        ),
        (
            lambda i: {"a": [{"numeric": [">", i * 1000, "<", i * 1000 + 5]}]},
            list(range(32_000)),
        ),
        (
            lambda i: {"a": [{"prefix": f"zz{i}"}, {"cidr": f"10.{i}.0.0/16"}]},
            [f"192.168.{(i // 256) % 256}.{i % 256}" for i in range(15_000)],
        ),
    ],
    ids=["prefix-suffix", "equals-ignore-case", "cidr", "numeric", "string-array-of-ips"],
)
def test_the_reported_hostile_messages_cost_a_bounded_number_of_passes(
    make: Any, values: list[Any]
) -> None:
    """The shapes of the reliability trial: a few passes over the values, not 100 x n."""
    attributes = {"a": MessageAttributeValue("String.Array", json.dumps(values))}

    read = visits(policies(100, make), attributes)

    assert read <= PASSES * len(values)


def test_body_arrays_are_read_a_bounded_number_of_times_too() -> None:
    """In MessageBody scope, a long array under one path is indexed once per publish."""
    body = json.dumps({"a": hostile_values(30_000)})
    compiled = [compile_filter_policy(every_operator(i), scope="MessageBody") for i in range(100)]
    message = PublishedMessage({}, body)

    for policy in compiled:
        assert policy is not None
        policy.matches_message(message)

    assert message.element_visits <= PASSES * 30_000


def test_long_arrays_still_match_correctly() -> None:
    """The indexes give the same answers a value-by-value reading would."""
    values = hostile_values(3_000)
    attributes = {"a": MessageAttributeValue("String.Array", json.dumps(values))}
    cases = {
        json.dumps({"a": [{"prefix": "s0009"}]}): True,
        json.dumps({"a": [{"prefix": "s9"}]}): False,
        json.dumps({"a": [{"suffix": ".3.7"}]}): True,
        json.dumps({"a": [{"suffix": "x"}]}): False,
        json.dumps({"a": [{"equals-ignore-case": "S000999"}]}): True,
        json.dumps({"a": [{"equals-ignore-case": "S001000"}]}): False,
        json.dumps({"a": [{"cidr": "192.168.3.0/24"}]}): True,
        json.dumps({"a": [{"cidr": "192.168.4.0/24"}]}): False,
        json.dumps({"a": [{"numeric": [">=", 6993, "<", 6994]}]}): True,
        json.dumps({"a": [{"numeric": [">", 6993, "<", 7000]}]}): False,
        json.dumps({"a": [{"anything-but": {"prefix": "s"}}]}): True,
        json.dumps({"a": [{"anything-but": ["s000001"]}]}): True,
        json.dumps({"a": ["s000999", "nope"]}): True,
        json.dumps({"a": [7]}): True,
        json.dumps({"a": [8]}): False,
    }
    for text, expected in cases.items():
        policy = compile_filter_policy(text)
        assert policy is not None
        assert policy.matches(attributes, "") is expected, text


def test_anything_but_prefix_needs_one_value_outside_the_prefix() -> None:
    """Every string starting with the prefix: no match; one other value: a match."""
    policy = compile_filter_policy({"a": [{"anything-but": {"prefix": "s"}}]})
    assert policy is not None
    inside = [f"s{i}" for i in range(1_000)]

    def matches(values: list[Any]) -> bool:
        return policy.matches({"a": MessageAttributeValue("String.Array", json.dumps(values))}, "")

    assert not matches(inside)
    assert matches([*inside, "t"])
    assert matches(["a", *inside])
    assert matches([*inside, 1])
    assert matches([*inside, None])
