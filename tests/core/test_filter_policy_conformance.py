"""Conformance table for SNS filter policies: policy + message -> delivered or not.

Sources: the AWS SNS developer guide pages on filter policies (example-filter-policies,
string-value-matching, numeric-value-matching, attribute-key-matching, and-or-logic,
subscription-filter-policy-constraints), AWS-recorded behaviour from LocalStack's
validated tests (dotted keys, arrays of objects, ``$or`` in bodies, null), and the
edges of every operator. Cases marked "decision" follow a documented UNCONFIRMED choice
of ``eventbus._core._filter_policy``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from eventbus._core._attributes import MessageAttributeValue
from eventbus._core._filter_policy import FilterPolicy, compile_filter_policy

ATTRS = "MessageAttributes"
BODY = "MessageBody"


def s(value: str) -> MessageAttributeValue:
    """A String attribute."""
    return MessageAttributeValue("String", string_value=value)


def n(value: str) -> MessageAttributeValue:
    """A Number attribute."""
    return MessageAttributeValue("Number", string_value=value)


def arr(*items: Any) -> MessageAttributeValue:
    """A String.Array attribute."""
    return MessageAttributeValue("String.Array", string_value=json.dumps(list(items)))


def binary(value: bytes = b"\x00\x01") -> MessageAttributeValue:
    """A Binary attribute."""
    return MessageAttributeValue("Binary", binary_value=value)


def j(document: Any) -> str:
    """A JSON message body."""
    return json.dumps(document)


@dataclass(frozen=True)
class Case:
    """One row: a policy, a scope, a message and whether the message is delivered."""

    id: str
    policy: dict[str, Any]
    expected: bool
    attributes: dict[str, MessageAttributeValue] = field(default_factory=dict)
    body: str = "not json"
    scope: str = ATTRS


# The example message of the DG page "example-filter-policies", as attributes and body.
EXAMPLE_ATTRS = {
    "customer_interests": arr("soccer", "rugby", "hockey"),
    "store": s("example_corp"),
    "event": s("order_placed"),
    "price_usd": n("210.75"),
}
EXAMPLE_BODY = j(
    {
        "customer_interests": ["soccer", "rugby", "hockey"],
        "store": "example_corp",
        "event": "order_placed",
        "price_usd": 210.75,
    }
)
ACCEPTING = {
    "store": ["example_corp"],
    "event": [{"anything-but": "order_cancelled"}],
    "customer_interests": ["rugby", "football", "baseball"],
    "price_usd": [{"numeric": [">=", 100]}],
}
REJECTING = {
    "store": ["example_corp"],
    "event": ["order_cancelled"],
    "encrypted": [False],
    "customer_interests": ["basketball", "baseball"],
}
EXACT = {"customer_interests": ["rugby", "tennis"]}
ANYTHING_BUT = {"customer_interests": [{"anything-but": ["rugby", "tennis"]}]}
ANYTHING_BUT_PREFIX = {"event": [{"anything-but": {"prefix": "order-"}}]}
PREFIX = {"customer_interests": [{"prefix": "bas"}]}
SUFFIX = {"customer_interests": [{"suffix": "ball"}]}
IGNORE_CASE = {"customer_interests": [{"equals-ignore-case": "tennis"}]}
CIDR = {"source_ip": [{"cidr": "10.0.0.0/24"}]}
CIDR6 = {"source_ip": [{"cidr": "2001:db8::/32"}]}
NUM_EQ = {"price_usd": [{"numeric": ["=", 301.5]}]}
NUM_ANYTHING_BUT = {"price_usd": [{"anything-but": [100, 500]}]}
NUM_RANGE = {"price_usd": [{"numeric": [">", 0, "<=", 150]}]}
NUM_NEG = {"price_usd": [{"numeric": ["<", 0]}]}
EXISTS = {"store": [{"exists": True}]}
NOT_EXISTS = {"store": [{"exists": False}]}
AND = {"customer_interests": ["rugby"], "price_usd": [{"numeric": [">", 100]}]}
OR_VALUES = {"customer_interests": ["rugby", "football", "baseball"]}
OR_OPERATOR = {
    "source": ["aws.cloudwatch"],
    "$or": [{"metricName": ["CPUUtilization"]}, {"namespace": ["AWS/EC2"]}],
}
OR_NESTED = {
    "source": ["aws.cloudwatch"],
    "$or": [
        {"metricName": ["CPUUtilization", "ReadLatency"]},
        {
            "metricType": ["MetricType"],
            "$or": [{"metricId": [1234, 4321]}, {"spaceId": [1000, 2000, 3000]}],
        },
    ],
}
BODY_NESTED = {
    "object": {"key": [{"prefix": "auto-"}, "hardcodedvalue"], "nested_key": [{"exists": False}]},
    "test": [{"exists": False}],
}
BODY_RECORDS = {
    "Records": {
        "s3": {"object": {"key": [{"prefix": "auto-"}]}},
        "eventName": [{"prefix": "ObjectCreated:"}],
    }
}
BODY_OR = {
    "$or": [
        {"metricName": ["CPUUtilization", "ReadLatency"]},
        {"namespace": ["AWS/EC2", "AWS/ES"]},
    ],
    "detail": {
        "scope": ["Service"],
        "$or": [{"source": ["aws.cloudwatch"]}, {"type": ["CloudWatch Alarm State Change"]}],
    },
}
DOTTED = {"object.nested": ["string.value"]}
DEEP_DOTTED = {"object.nested.test": ["string.value"]}


def record(event_name: str, key: Any) -> dict[str, Any]:
    """A stripped-down S3 event record."""
    return {"eventSource": "aws:s3", "eventName": event_name, "s3": {"object": key}}


CASES: list[Case] = [
    # --- DG example-filter-policies -----------------------------------------------------
    Case("example-accepting-attrs", ACCEPTING, True, EXAMPLE_ATTRS),
    Case("example-rejecting-attrs", REJECTING, False, EXAMPLE_ATTRS),
    Case("example-accepting-body", ACCEPTING, True, body=EXAMPLE_BODY, scope=BODY),
    Case("example-rejecting-body", REJECTING, False, body=EXAMPLE_BODY, scope=BODY),
    Case(
        "example-accepting-cancelled",
        ACCEPTING,
        False,
        {**EXAMPLE_ATTRS, "event": s("order_cancelled")},
    ),
    Case("example-accepting-cheap", ACCEPTING, False, {**EXAMPLE_ATTRS, "price_usd": n("99.99")}),
    Case(
        "example-accepting-no-price",
        ACCEPTING,
        False,
        {k: v for k, v in EXAMPLE_ATTRS.items() if k != "price_usd"},
    ),
    # --- DG string-value-matching: exact ------------------------------------------------
    Case("exact-string", EXACT, True, {"customer_interests": s("rugby")}),
    Case("exact-string-2", EXACT, True, {"customer_interests": s("tennis")}),
    Case("exact-array", EXACT, True, {"customer_interests": arr("rugby", "tennis")}),
    Case("exact-no-match", EXACT, False, {"customer_interests": s("baseball")}),
    Case("exact-array-no-match", EXACT, False, {"customer_interests": arr("baseball")}),
    Case("exact-body", EXACT, True, body=j({"customer_interests": "rugby"}), scope=BODY),
    Case("exact-body-2", EXACT, True, body=j({"customer_interests": "tennis"}), scope=BODY),
    Case("exact-body-no", EXACT, False, body=j({"customer_interests": "baseball"}), scope=BODY),
    Case("exact-case-sensitive", EXACT, False, {"customer_interests": s("Rugby")}),
    Case("exact-missing-key", EXACT, False, {"other": s("rugby")}),
    Case("exact-empty-string", {"k": [""]}, True, body=j({"k": ""}), scope=BODY),
    Case("exact-empty-string-no", {"k": [""]}, False, {"k": s(" ")}),
    Case("exact-unicode", {"k": ["çé😀"]}, True, {"k": s("çé😀")}),
    Case(
        "exact-custom-label",
        EXACT,
        True,
        {"customer_interests": MessageAttributeValue("String.interest", string_value="rugby")},
    ),
    # --- anything-but -----------------------------------------------------------------
    Case("anything-but-string", ANYTHING_BUT, True, {"customer_interests": s("baseball")}),
    Case("anything-but-string-2", ANYTHING_BUT, True, {"customer_interests": s("football")}),
    Case("anything-but-excluded", ANYTHING_BUT, False, {"customer_interests": s("rugby")}),
    Case("anything-but-excluded-2", ANYTHING_BUT, False, {"customer_interests": s("tennis")}),
    Case(
        "anything-but-array-some-other",
        ANYTHING_BUT,
        True,
        {"customer_interests": arr("rugby", "baseball")},
    ),
    Case(
        "anything-but-array-all-excluded",
        ANYTHING_BUT,
        False,
        {"customer_interests": arr("rugby", "tennis")},
    ),
    Case(
        "anything-but-body",
        ANYTHING_BUT,
        True,
        body=j({"customer_interests": "football"}),
        scope=BODY,
    ),
    Case(
        "anything-but-body-array",
        ANYTHING_BUT,
        True,
        body=j({"customer_interests": ["rugby", "baseball"]}),
        scope=BODY,
    ),
    Case(
        "anything-but-body-excluded",
        ANYTHING_BUT,
        False,
        body=j({"customer_interests": "tennis"}),
        scope=BODY,
    ),
    Case("anything-but-missing-key", ANYTHING_BUT, False, {"other": s("x")}),
    Case("anything-but-missing-key-body", ANYTHING_BUT, False, body=j({"other": "x"}), scope=BODY),
    Case(
        "anything-but-single",
        {"e": [{"anything-but": "order_cancelled"}]},
        True,
        {"e": s("order_placed")},
    ),
    Case("anything-but-case-sensitive", ANYTHING_BUT, True, {"customer_interests": s("RUGBY")}),
    Case(
        "anything-but-null-value (decision)",
        ANYTHING_BUT,
        True,
        body=j({"customer_interests": None}),
        scope=BODY,
    ),
    Case(
        "anything-but-or-exists-false",
        {"k": [{"anything-but": "x"}, {"exists": False}]},
        True,
        {"other": s("x")},
    ),
    Case(
        "anything-but-null-or (AWS-REC)", {"attr1": [None, {"anything-but": "whatever"}]}, False, {}
    ),
    Case("anything-but-prefix", ANYTHING_BUT_PREFIX, True, {"event": s("data-entry")}),
    Case("anything-but-prefix-2", ANYTHING_BUT_PREFIX, True, {"event": s("order_number")}),
    Case("anything-but-prefix-no", ANYTHING_BUT_PREFIX, False, {"event": s("order-cancelled")}),
    Case("anything-but-prefix-exact", ANYTHING_BUT_PREFIX, False, {"event": s("order-")}),
    Case(
        "anything-but-prefix-body",
        ANYTHING_BUT_PREFIX,
        True,
        body=j({"event": "data-entry"}),
        scope=BODY,
    ),
    Case("anything-but-prefix-missing", ANYTHING_BUT_PREFIX, False, {}),
    Case("anything-but-prefix-number (decision)", ANYTHING_BUT_PREFIX, True, {"event": n("5")}),
    Case(
        "anything-but-string-vs-number (decision)",
        ANYTHING_BUT,
        True,
        {"customer_interests": n("5")},
    ),
    # --- prefix / suffix / equals-ignore-case -------------------------------------------
    Case("prefix", PREFIX, True, {"customer_interests": s("baseball")}),
    Case("prefix-2", PREFIX, True, {"customer_interests": s("basketball")}),
    Case("prefix-no", PREFIX, False, {"customer_interests": s("rugby")}),
    Case("prefix-case", PREFIX, False, {"customer_interests": s("Baseball")}),
    Case("prefix-whole", PREFIX, True, {"customer_interests": s("bas")}),
    Case("prefix-array", PREFIX, True, {"customer_interests": arr("rugby", "basketball")}),
    Case("prefix-body", PREFIX, True, body=j({"customer_interests": "baseball"}), scope=BODY),
    Case("prefix-empty", {"k": [{"prefix": ""}]}, True, {"k": s("anything")}),
    Case("prefix-number-value (decision)", {"k": [{"prefix": "1"}]}, False, {"k": n("123")}),
    Case("suffix", SUFFIX, True, {"customer_interests": s("baseball")}),
    Case("suffix-2", SUFFIX, True, {"customer_interests": s("basketball")}),
    Case("suffix-no", SUFFIX, False, {"customer_interests": s("rugby")}),
    Case(
        "suffix-body-array",
        SUFFIX,
        True,
        body=j({"customer_interests": ["rugby", "football"]}),
        scope=BODY,
    ),
    Case("ignore-case-upper", IGNORE_CASE, True, {"customer_interests": s("TENNIS")}),
    Case("ignore-case-mixed", IGNORE_CASE, True, {"customer_interests": s("Tennis")}),
    Case("ignore-case-lower", IGNORE_CASE, True, {"customer_interests": s("tennis")}),
    Case("ignore-case-no", IGNORE_CASE, False, {"customer_interests": s("baseball")}),
    Case(
        "ignore-case-policy-upper",
        {"k": [{"equals-ignore-case": "RUGBY"}]},
        True,
        {"k": s("rugby")},
    ),
    Case(
        "ignore-case-body", IGNORE_CASE, True, body=j({"customer_interests": "TeNnIs"}), scope=BODY
    ),
    # --- cidr -------------------------------------------------------------------------
    Case("cidr-network-address", CIDR, True, {"source_ip": s("10.0.0.0")}),
    Case("cidr-broadcast", CIDR, True, {"source_ip": s("10.0.0.255")}),
    Case("cidr-outside", CIDR, False, {"source_ip": s("10.1.1.0")}),
    Case("cidr-next-block", CIDR, False, {"source_ip": s("10.0.1.0")}),
    Case("cidr-not-an-ip", CIDR, False, {"source_ip": s("not-an-ip")}),
    Case("cidr-ipv6-in-v4-policy", CIDR, False, {"source_ip": s("::ffff:10.0.0.1")}),
    Case("cidr-body", CIDR, True, body=j({"source_ip": "10.0.0.7"}), scope=BODY),
    Case("cidr-v6", CIDR6, True, {"source_ip": s("2001:db8::1")}),
    Case("cidr-v6-outside", CIDR6, False, {"source_ip": s("2001:db9::1")}),
    Case("cidr-v6-vs-v4", CIDR6, False, {"source_ip": s("10.0.0.1")}),
    Case("cidr-host-bits", {"ip": [{"cidr": "192.168.1.77/30"}]}, True, {"ip": s("192.168.1.76")}),
    Case("cidr-slash-32", {"ip": [{"cidr": "192.168.1.77/32"}]}, False, {"ip": s("192.168.1.76")}),
    Case("cidr-slash-0", {"ip": [{"cidr": "0.0.0.0/0"}]}, True, {"ip": s("8.8.8.8")}),
    # --- numeric ----------------------------------------------------------------------
    Case("numeric-eq", NUM_EQ, True, {"price_usd": n("301.5")}),
    Case("numeric-eq-exponent", NUM_EQ, True, {"price_usd": n("3.015e2")}),
    Case("numeric-eq-trailing-zeros", NUM_EQ, True, {"price_usd": n("301.500")}),
    Case("numeric-eq-no", NUM_EQ, False, {"price_usd": n("301.51")}),
    Case("numeric-eq-body", NUM_EQ, True, body='{"price_usd": 3.015e2}', scope=BODY),
    Case("numeric-anything-but", NUM_ANYTHING_BUT, True, {"price_usd": n("101")}),
    Case("numeric-anything-but-2", NUM_ANYTHING_BUT, True, {"price_usd": n("99")}),
    Case("numeric-anything-but-no", NUM_ANYTHING_BUT, False, {"price_usd": n("100")}),
    Case("numeric-anything-but-no-2", NUM_ANYTHING_BUT, False, {"price_usd": n("500.0")}),
    Case(
        "numeric-anything-but-body", NUM_ANYTHING_BUT, False, body='{"price_usd": 1e2}', scope=BODY
    ),
    Case("numeric-range-inside", NUM_RANGE, True, {"price_usd": n("100")}),
    Case("numeric-range-top-inclusive", NUM_RANGE, True, {"price_usd": n("150")}),
    Case("numeric-range-above", NUM_RANGE, False, {"price_usd": n("150.00001")}),
    Case("numeric-range-bottom-exclusive", NUM_RANGE, False, {"price_usd": n("0")}),
    Case("numeric-range-just-above-bottom", NUM_RANGE, True, {"price_usd": n("0.00001")}),
    Case("numeric-negative", NUM_NEG, True, {"price_usd": n("-1")}),
    Case("numeric-negative-zero", NUM_NEG, False, {"price_usd": n("-0")}),
    Case("numeric-ge", {"p": [{"numeric": [">=", 10]}]}, True, {"p": n("10")}),
    Case("numeric-gt", {"p": [{"numeric": [">", 10]}]}, False, {"p": n("10")}),
    Case("numeric-le", {"p": [{"numeric": ["<=", 10]}]}, True, {"p": n("10")}),
    Case("numeric-lt", {"p": [{"numeric": ["<", 10]}]}, False, {"p": n("10")}),
    Case("numeric-ge-lt-range", {"p": [{"numeric": [">=", 10, "<", 20]}]}, True, {"p": n("10")}),
    Case(
        "numeric-ge-lt-range-top", {"p": [{"numeric": [">=", 10, "<", 20]}]}, False, {"p": n("20")}
    ),
    Case(
        "numeric-limits",
        {"p": [{"numeric": [">=", -1e9, "<=", 1e9]}]},
        True,
        {"p": n("1000000000")},
    ),
    Case(
        "numeric-limits-below",
        {"p": [{"numeric": [">=", -1e9, "<=", 1e9]}]},
        False,
        {"p": n("-1000000000.1")},
    ),
    Case("numeric-exact-decimal", {"p": [{"numeric": ["=", 0.3]}]}, True, {"p": n("0.30")}),
    Case("numeric-on-string-attr (decision)", NUM_RANGE, False, {"price_usd": s("100")}),
    Case(
        "numeric-on-string-body (decision)",
        NUM_RANGE,
        False,
        body=j({"price_usd": "100"}),
        scope=BODY,
    ),
    Case("numeric-array-element", NUM_RANGE, True, {"price_usd": arr("x", 500, 42)}),
    Case(
        "numeric-custom-label",
        NUM_RANGE,
        True,
        {"price_usd": MessageAttributeValue("Number.float", string_value="12.5")},
    ),
    Case("numeric-missing", NUM_RANGE, False, {}),
    # --- literal numbers, booleans and null (decisions) --------------------------------
    Case("literal-number-vs-number-attr", {"p": [100]}, True, {"p": n("100.0")}),
    Case("literal-number-vs-string-attr", {"p": [100]}, False, {"p": s("100")}),
    Case("literal-string-vs-number-attr", {"p": ["100"]}, False, {"p": n("100")}),
    Case("literal-number-body", {"p": [100]}, True, body='{"p": 1E2}', scope=BODY),
    Case(
        "literal-number-account-id",
        {"acct": [123456789012]},
        True,
        body='{"acct": 123456789012}',
        scope=BODY,
    ),
    Case("literal-true-body", {"b": [True]}, True, body=j({"b": True}), scope=BODY),
    Case("literal-true-vs-one", {"b": [True]}, False, body=j({"b": 1}), scope=BODY),
    Case("literal-one-vs-true", {"b": [1]}, False, body=j({"b": True}), scope=BODY),
    Case("literal-false-vs-string", {"b": [False]}, False, {"b": s("false")}),
    Case("literal-bool-in-array", {"b": [False]}, True, {"b": arr(False)}),
    Case("literal-null-body", {"k": [None]}, True, body=j({"k": None}), scope=BODY),
    Case("literal-null-missing", {"k": [None]}, False, body=j({"other": 1}), scope=BODY),
    Case("literal-null-in-array", {"k": [None]}, True, {"k": arr("a", None)}),
    # --- key matching (exists) ----------------------------------------------------------
    Case(
        "exists-true",
        EXISTS,
        True,
        {"store": s("fans"), "customer_interests": arr("baseball", "basketball")},
    ),
    Case(
        "exists-true-missing", EXISTS, False, {"customer_interests": arr("baseball", "basketball")}
    ),
    Case(
        "exists-true-body",
        EXISTS,
        True,
        body=j({"store": "fans", "customer_interests": ["baseball", "basketball"]}),
        scope=BODY,
    ),
    Case(
        "exists-true-body-missing",
        EXISTS,
        False,
        body=j({"customer_interests": ["baseball", "basketball"]}),
        scope=BODY,
    ),
    Case("exists-false", NOT_EXISTS, True, {"customer_interests": arr("baseball")}),
    Case("exists-false-present", NOT_EXISTS, False, {"store": s("fans")}),
    Case("exists-false-body", NOT_EXISTS, True, body=j({"customer_interests": ["x"]}), scope=BODY),
    Case("exists-false-body-present", NOT_EXISTS, False, body=j({"store": "fans"}), scope=BODY),
    Case("exists-true-number (AWS-REC)", EXISTS, True, {"store": n("99"), "def": n("99")}),
    Case("exists-false-no-attributes", NOT_EXISTS, True, {}),
    Case("exists-true-null-body", EXISTS, True, body=j({"store": None}), scope=BODY),
    Case(
        "exists-true-object-body (decision)", EXISTS, False, body=j({"store": {"a": 1}}), scope=BODY
    ),
    Case(
        "exists-false-empty-array (decision)", NOT_EXISTS, True, body=j({"store": []}), scope=BODY
    ),
    Case("exists-true-binary (decision)", EXISTS, False, {"store": binary()}),
    Case("exists-false-binary (decision)", NOT_EXISTS, True, {"store": binary()}),
    Case("exists-true-or-false", {"k": [{"exists": True}, {"exists": False}]}, True, {}),
    Case("exists-false-or-value", {"k": [{"exists": False}, "x"]}, True, {"k": s("x")}),
    Case("exists-false-or-value-other", {"k": [{"exists": False}, "x"]}, False, {"k": s("y")}),
    # --- AND / OR ---------------------------------------------------------------------
    Case("and-both", AND, True, {"customer_interests": s("rugby"), "price_usd": n("101")}),
    Case("and-one-fails", AND, False, {"customer_interests": s("rugby"), "price_usd": n("100")}),
    Case("and-one-missing", AND, False, {"customer_interests": s("rugby")}),
    Case("or-values", OR_VALUES, True, {"customer_interests": s("football")}),
    Case("or-values-no", OR_VALUES, False, {"customer_interests": s("hockey")}),
    Case(
        "or-operator-first",
        OR_OPERATOR,
        True,
        {"source": s("aws.cloudwatch"), "metricName": s("CPUUtilization")},
    ),
    Case(
        "or-operator-second",
        OR_OPERATOR,
        True,
        {"source": s("aws.cloudwatch"), "namespace": s("AWS/EC2")},
    ),
    Case(
        "or-operator-neither",
        OR_OPERATOR,
        False,
        {"source": s("aws.cloudwatch"), "namespace": s("AWS/ES")},
    ),
    Case(
        "or-operator-and-fails",
        OR_OPERATOR,
        False,
        {"source": s("aws.events"), "metricName": s("CPUUtilization")},
    ),
    Case(
        "or-nested-metric-id",
        OR_NESTED,
        True,
        {"source": s("aws.cloudwatch"), "metricType": s("MetricType"), "metricId": n("1234")},
    ),
    Case(
        "or-nested-space-id",
        OR_NESTED,
        True,
        {"source": s("aws.cloudwatch"), "metricType": s("MetricType"), "spaceId": n("3000")},
    ),
    Case(
        "or-nested-type-only",
        OR_NESTED,
        False,
        {"source": s("aws.cloudwatch"), "metricType": s("MetricType")},
    ),
    Case(
        "or-nested-metric-name",
        OR_NESTED,
        True,
        {"source": s("aws.cloudwatch"), "metricName": s("ReadLatency")},
    ),
    Case(
        "or-nested-body",
        OR_NESTED,
        True,
        body=j({"source": "aws.cloudwatch", "metricType": "MetricType", "metricId": 4321}),
        scope=BODY,
    ),
    Case("or-as-plain-key-body", {"$or": ["a", "b"]}, True, body=j({"$or": "b"}), scope=BODY),
    Case("or-as-plain-key-missing", {"$or": ["a", "b"]}, False, body=j({"x": "a"}), scope=BODY),
    # --- MessageBody scope: nesting, arrays, dotted keys (AWS-REC) ----------------------
    Case(
        "body-nested-prefix",
        BODY_NESTED,
        True,
        body=j({"object": {"key": "auto-test"}}),
        scope=BODY,
    ),
    Case(
        "body-nested-literal",
        BODY_NESTED,
        True,
        body=j({"object": {"key": "hardcodedvalue"}}),
        scope=BODY,
    ),
    Case(
        "body-nested-wrong-prefix",
        BODY_NESTED,
        False,
        body=j({"object": {"key": "test-auto"}}),
        scope=BODY,
    ),
    Case(
        "body-nested-top-exists",
        BODY_NESTED,
        False,
        body=j({"object": {"key": "auto-test"}, "test": "just-exists"}),
        scope=BODY,
    ),
    Case(
        "body-nested-inner-exists",
        BODY_NESTED,
        False,
        body=j({"object": {"key": "auto-test", "nested_key": "just-exists"}}),
        scope=BODY,
    ),
    Case(
        "body-nested-wrong-key",
        BODY_NESTED,
        False,
        body=j({"object": {"test": "auto-test"}}),
        scope=BODY,
    ),
    Case("body-nested-missing", BODY_NESTED, False, body=j({"test": "auto-test"}), scope=BODY),
    Case("body-plain-text", BODY_NESTED, False, body="Regular string message", scope=BODY),
    Case("body-json-string", BODY_NESTED, False, body=j("Regular string message"), scope=BODY),
    Case("body-json-array (decision)", NOT_EXISTS, False, body=j([{"a": 1}]), scope=BODY),
    Case(
        "body-nan-is-not-json (decision)",
        {"p": [{"exists": True}]},
        False,
        body='{"p": NaN}',
        scope=BODY,
    ),
    Case(
        "body-array-route",
        {"headers": {"route-to": ["queue1"]}},
        True,
        body=j({"headers": {"route-to": ["queue1", "queue2"]}}),
        scope=BODY,
    ),
    Case(
        "body-array-route-no",
        {"headers": {"route-to": ["queue1"]}},
        False,
        body=j({"headers": {"route-to": ["queue3"]}}),
        scope=BODY,
    ),
    Case(
        "body-records-created",
        BODY_RECORDS,
        True,
        body=j({"Records": [record("ObjectCreated:Put", {"key": "auto-insurance-2314.xml"})]}),
        scope=BODY,
    ),
    Case(
        "body-records-removed",
        BODY_RECORDS,
        False,
        body=j({"Records": [record("ObjectRemoved:Delete", {"key": "auto-insurance-2314.xml"})]}),
        scope=BODY,
    ),
    Case(
        "body-records-home",
        BODY_RECORDS,
        False,
        body=j({"Records": [record("ObjectCreated:Put", {"key": "home-insurance-2314.xml"})]}),
        scope=BODY,
    ),
    Case(
        "body-records-list-of-lists",
        BODY_RECORDS,
        True,
        body=j(
            {
                "Records": [
                    record("ObjectCreated:Put", [[{"key": "auto-insurance-2314.xml", "size": 17}]]),
                    record("ObjectRemoved:Delete", {"key": "home-insurance-2314.xml"}),
                ]
            }
        ),
        scope=BODY,
    ),
    Case(
        "body-or-metric-source",
        BODY_OR,
        True,
        body=j(
            {
                "metricName": "CPUUtilization",
                "detail": {"scope": "Service", "source": "aws.cloudwatch"},
            }
        ),
        scope=BODY,
    ),
    Case(
        "body-or-namespace-type",
        BODY_OR,
        True,
        body=j(
            {
                "namespace": "AWS/ES",
                "detail": {"scope": "Service", "type": "CloudWatch Alarm State Change"},
            }
        ),
        scope=BODY,
    ),
    Case(
        "body-or-wrong-scope",
        BODY_OR,
        False,
        body=j(
            {
                "metricName": "CPUUtilization",
                "detail": {"scope": "aws.cloudwatch", "type": "CloudWatch Alarm State Change"},
            }
        ),
        scope=BODY,
    ),
    Case(
        "body-or-wrong-type",
        BODY_OR,
        False,
        body=j(
            {
                "metricName": "CPUUtilization",
                "detail": {"scope": "Service", "type": "CPUUtilization"},
            }
        ),
        scope=BODY,
    ),
    Case(
        "body-or-missing-scope",
        BODY_OR,
        False,
        body=j(
            {"metricName": "CPUUtilization", "detail": {"type": "CloudWatch Alarm State Change"}}
        ),
        scope=BODY,
    ),
    Case(
        "body-or-missing-inner-or",
        BODY_OR,
        False,
        body=j({"metricName": "CPUUtilization", "detail": {"scope": "Service"}}),
        scope=BODY,
    ),
    Case(
        "body-or-flat-scope",
        BODY_OR,
        False,
        body=j({"metricName": "CPUUtilization", "scope": "Service"}),
        scope=BODY,
    ),
    Case(
        "body-dotted-nested",
        DOTTED,
        True,
        body=j({"object": {"nested": "string.value"}}),
        scope=BODY,
    ),
    Case("body-dotted-flat", DOTTED, True, body=j({"object.nested": "string.value"}), scope=BODY),
    Case("body-dotted-no", DOTTED, False, body=j({"object": {"nested": "test-auto"}}), scope=BODY),
    Case(
        "body-deep-dotted-1",
        DEEP_DOTTED,
        True,
        body=j({"object": {"nested": {"test": "string.value"}}}),
        scope=BODY,
    ),
    Case(
        "body-deep-dotted-2",
        DEEP_DOTTED,
        True,
        body=j({"object.nested.test": "string.value"}),
        scope=BODY,
    ),
    Case(
        "body-deep-dotted-3",
        DEEP_DOTTED,
        True,
        body=j({"object.nested": {"test": "string.value"}}),
        scope=BODY,
    ),
    Case(
        "body-deep-dotted-4",
        DEEP_DOTTED,
        True,
        body=j({"object": {"nested.test": "string.value"}}),
        scope=BODY,
    ),
    Case(
        "body-deep-dotted-no",
        DEEP_DOTTED,
        False,
        body=j({"object": {"nested": {"test": "string.notvalue"}}}),
        scope=BODY,
    ),
    Case(
        "body-nested-policy-vs-dotted-body",
        {"a": {"b": ["x"]}},
        True,
        body=j({"a.b": "x"}),
        scope=BODY,
    ),
    Case(
        "body-object-value-vs-literal", {"a": ["x"]}, False, body=j({"a": {"b": "x"}}), scope=BODY
    ),
    Case(
        "body-array-of-objects-any-element",
        {"items": {"sku": ["b2"]}},
        True,
        body=j({"items": [{"sku": "a1"}, {"sku": "b2"}]}),
        scope=BODY,
    ),
    # --- scope separation, binary, malformed attributes -------------------------------
    Case("attrs-scope-ignores-body", EXACT, False, {}, body=j({"customer_interests": "rugby"})),
    Case(
        "body-scope-ignores-attrs",
        EXACT,
        False,
        {"customer_interests": s("rugby")},
        body=j({}),
        scope=BODY,
    ),
    Case("binary-ignored (decision)", {"k": [{"anything-but": "x"}]}, False, {"k": binary()}),
    Case(
        "string-array-invalid-json (decision)",
        {"k": [{"exists": False}]},
        True,
        {"k": MessageAttributeValue("String.Array", string_value="[not json")},
    ),
    Case("string-array-empty (decision)", {"k": [{"exists": True}]}, False, {"k": arr()}),
    Case(
        "string-array-objects-ignored",
        {"k": ["x"]},
        False,
        {"k": MessageAttributeValue("String.Array", string_value='[{"a": "x"}, ["x"]]')},
    ),
    Case("attribute-name-with-dot", {"a.b": ["x"]}, True, {"a.b": s("x")}),
]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_conformance(case: Case) -> None:
    """The compiled policy delivers exactly the messages AWS documents or records."""
    policy = compile_filter_policy(case.policy, scope=case.scope)
    assert isinstance(policy, FilterPolicy)
    assert policy.scope == case.scope
    assert policy.matches(case.attributes, case.body) is case.expected


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_conformance_from_json_text(case: Case) -> None:
    """Compiling the policy from its JSON text gives the same verdict and source."""
    policy = compile_filter_policy(json.dumps(case.policy), scope=case.scope)
    assert isinstance(policy, FilterPolicy)
    assert policy.source == case.policy
    assert policy.matches(case.attributes, case.body) is case.expected


def test_table_is_large_and_ids_unique() -> None:
    """The table keeps at least 100 distinct cases covering both scopes."""
    ids = [case.id for case in CASES]
    assert len(ids) >= 100
    assert len(set(ids)) == len(ids)
    assert {case.scope for case in CASES} == {ATTRS, BODY}


def test_empty_policy_matches_everything() -> None:
    """An empty policy, as a dict or as text, compiles to None (no filtering)."""
    assert compile_filter_policy({}) is None
    assert compile_filter_policy("{}", scope=BODY) is None
    assert compile_filter_policy("  ") is None
    assert compile_filter_policy("") is None


def test_source_is_a_normalised_copy() -> None:
    """``source`` is plain JSON data that callers may change without effect."""
    original: dict[str, Any] = {"k": ("a", "b"), "n": [{"numeric": (">", 1)}]}
    policy = compile_filter_policy(original)
    assert policy is not None
    source = policy.source
    assert source == {"k": ["a", "b"], "n": [{"numeric": [">", 1]}]}
    source["k"].append("c")
    assert policy.source["k"] == ["a", "b"]
    assert policy.matches({"k": s("c"), "n": n("2")}, "") is False


def test_equality_and_hash() -> None:
    """Policies with the same scope and JSON are equal, whatever the key order."""
    first = compile_filter_policy({"a": ["x"], "b": [1]})
    second = compile_filter_policy('{"b": [1], "a": ["x"]}')
    body = compile_filter_policy({"a": ["x"], "b": [1]}, scope=BODY)
    assert first == second
    assert hash(first) == hash(second)
    assert first != body
    assert first != {"a": ["x"], "b": [1]}
    assert "MessageAttributes" in repr(first)


def test_numbers_in_policy_text_keep_their_precision() -> None:
    """A policy number like 0.1 compares as the decimal 0.1, not as a binary float."""
    policy = compile_filter_policy('{"p": [{"numeric": ["=", 0.1]}]}')
    assert policy is not None
    assert policy.matches({"p": n("0.1")}, "")
    assert policy.matches({"p": n("0.10000")}, "")
    assert not policy.matches({"p": n("0.1000000000000000055511151231257827")}, "")


def test_repeated_matching_gives_the_same_answer() -> None:
    """Matching has no state: the same message gets the same verdict every time."""
    policy = compile_filter_policy(OR_NESTED)
    assert policy is not None
    message = {"source": s("aws.cloudwatch"), "metricType": s("MetricType"), "spaceId": n("1000")}
    assert [policy.matches(message, "") for _ in range(3)] == [True, True, True]
