"""Every filter-policy validation rule and limit, refused with InvalidParameter.

AWS texts come from AWS responses recorded in LocalStack's validated snapshots
(2024-05); each message must also name the key or part at fault.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, cast

import pytest

from eventbus._core._errors import EventBusError, InvalidParameter
from eventbus._core._filter_policy import (
    MAX_DEPTH,
    MAX_POLICY_BYTES,
    compile_filter_policy,
)

ATTRS = "MessageAttributes"
BODY = "MessageBody"


@dataclass(frozen=True)
class Bad:
    """A policy that must be refused, and the fragments its message must hold."""

    id: str
    policy: Any
    fragments: tuple[str, ...]
    scope: str = ATTRS


def refuse(policy: Any, scope: str = ATTRS) -> InvalidParameter:
    """Compile a policy that must fail and return the error."""
    with pytest.raises(InvalidParameter) as caught:
        compile_filter_policy(policy, scope=scope)
    error = caught.value
    assert isinstance(error, EventBusError)
    assert error.code == "InvalidParameter"
    assert error.sender_fault
    return error


def or_policy(sources: int, spaces: int) -> dict[str, Any]:
    """The AWS-recorded ``$or`` complexity policy with adjustable list lengths."""
    return {
        "source": [f"aws.s{i}" for i in range(sources)],
        "$or": [
            {"metricName": ["CPUUtilization", "ReadLatency", "t1", "t2", "t3", "t4"]},
            {
                "metricType": ["MetricType", "TestType", "TestType2", "TestType3"],
                "$or": [
                    {"metricId": [1234, 4321, 5678, 9012]},
                    {"spaceId": list(range(1, spaces + 1))},
                ],
            },
        ],
    }


BAD: list[Bad] = [
    # --- structure ---------------------------------------------------------------------
    Bad("value-not-list", {"key_a": "value_one"}, ('"key_a" must be an object or an array',)),
    Bad("value-number", {"k": 5}, ('"k" must be an object or an array',)),
    Bad("value-null", {"k": None}, ('"k" must be an object or an array',)),
    Bad("value-bool", {"k": True}, ('"k" must be an object or an array',)),
    Bad(
        "nested-value-not-list",
        {"a": {"b": "x"}},
        ('"b" must be an object or an array', 'at key "a.b"'),
        BODY,
    ),
    Bad(
        "operator-object-not-in-list",
        {"key": {"suffix": "value"}},
        ('"suffix" must be an object or an array', 'at key "key.suffix"'),
    ),
    Bad(
        "no-operator-object",
        {"key": {"not-an-operator": "value"}},
        ('"not-an-operator" must be an object or an array',),
    ),
    Bad("empty-array", {"k": []}, ("Empty arrays are not allowed", 'at key "k"')),
    Bad("empty-array-nested", {"a": {"b": []}}, ("Empty arrays are not allowed", '"a.b"'), BODY),
    Bad("empty-nested-object", {"a": {}}, ("Empty objects are not allowed", 'at key "a"'), BODY),
    Bad(
        "nested-list",
        {"key": [["value"]]},
        ("Match value must be String, number, true, false, or null", 'at key "key"'),
    ),
    Bad(
        "unknown-operator",
        {"key": [{"wrong-operator": True}]},
        ("Unrecognized match type wrong-operator", 'at key "key"'),
    ),
    Bad(
        "wildcard-unsupported",
        {"key": [{"wildcard": "a*"}]},
        ("Unrecognized match type wildcard", '"key"'),
    ),
    Bad(
        "two-operators",
        {"key": [{"suffix": "value", "prefix": "value2"}]},
        ("Only one key allowed in match expression", 'at key "key"'),
    ),
    Bad("empty-match-object", {"key": [{}]}, ("Empty objects are not allowed", '"key"')),
    # --- string operators ----------------------------------------------------------------
    Bad(
        "suffix-number",
        {"key": [{"suffix": 100}]},
        ("suffix match pattern must be a string", '"key"'),
    ),
    Bad("suffix-null", {"key": [{"suffix": None}]}, ("suffix match pattern must be a string",)),
    Bad("suffix-empty-list", {"key": [{"suffix": []}]}, ("suffix match pattern must be a string",)),
    Bad(
        "suffix-list",
        {"key": [{"suffix": ["test", "test2"]}]},
        ("suffix match pattern must be a string", '"key"'),
    ),
    Bad(
        "prefix-bool",
        {"key": [{"prefix": False}]},
        ("prefix match pattern must be a string", '"key"'),
    ),
    Bad(
        "ignore-case-number",
        {"key": [{"equals-ignore-case": 1}]},
        ("equals-ignore-case match pattern must be a string", '"key"'),
    ),
    # --- exists ----------------------------------------------------------------------------
    Bad(
        "exists-null",
        {"key": [{"exists": None}]},
        ("exists match pattern must be either true or false.", '"key"'),
    ),
    Bad(
        "exists-string",
        {"key": [{"exists": "no"}]},
        ("exists match pattern must be either true or false.",),
    ),
    Bad(
        "exists-number",
        {"key": [{"exists": 1}]},
        ("exists match pattern must be either true or false.",),
    ),
    # --- anything-but ------------------------------------------------------------------
    Bad(
        "anything-but-wrong-operator",
        {"key": [{"anything-but": {"wrong-operator": None}}]},
        ("Unsupported anything-but pattern: wrong-operator", '"key"'),
    ),
    Bad(
        "anything-but-suffix",
        {"key": [{"anything-but": {"suffix": "test"}}]},
        ("Unsupported anything-but pattern: suffix", '"key"'),
    ),
    Bad(
        "anything-but-exists",
        {"key": [{"anything-but": {"exists": False}}]},
        ("Unsupported anything-but pattern: exists",),
    ),
    Bad(
        "anything-but-ignore-case",
        {"key": [{"anything-but": {"equals-ignore-case": "x"}}]},
        ("Unsupported anything-but pattern: equals-ignore-case",),
    ),
    Bad(
        "anything-but-prefix-type",
        {"key": [{"anything-but": {"prefix": False}}]},
        ("prefix match pattern must be a string", '"key"'),
    ),
    Bad(
        "anything-but-two-keys",
        {"key": [{"anything-but": {"prefix": "a", "suffix": "b"}}]},
        ("Only one key allowed in match expression", '"key"'),
    ),
    Bad(
        "anything-but-empty-object",
        {"key": [{"anything-but": {}}]},
        ("Empty objects are not allowed", '"key"'),
    ),
    Bad(
        "anything-but-empty-list",
        {"key": [{"anything-but": []}]},
        ("Empty arrays are not allowed", '"key"'),
    ),
    Bad(
        "anything-but-null-in-list",
        {"key": [{"anything-but": ["a", None]}]},
        ("Inside anything-but list, start|null|boolean is not supported.", '"key"'),
    ),
    Bad(
        "anything-but-bool-in-list",
        {"key": [{"anything-but": [True]}]},
        ("Inside anything-but list",),
    ),
    Bad(
        "anything-but-nested-list",
        {"key": [{"anything-but": [["a"]]}]},
        ("Inside anything-but list",),
    ),
    Bad(
        "anything-but-bool",
        {"key": [{"anything-but": True}]},
        ("Value of anything-but must be an array or single string/number value.", '"key"'),
    ),
    Bad(
        "anything-but-null",
        {"key": [{"anything-but": None}]},
        ("Value of anything-but must be an array",),
    ),
    # --- numeric (AWS-recorded texts) --------------------------------------------------
    Bad(
        "numeric-empty", {"key": [{"numeric": []}]}, ("Invalid member in numeric match: ]", '"key"')
    ),
    Bad(
        "numeric-wrong-operator",
        {"key": [{"numeric": ["operator"]}]},
        ("Unrecognized numeric range operator: operator", '"key"'),
    ),
    Bad(
        "numeric-operator-order",
        {"key": [{"numeric": [1, "<="]}]},
        ("Invalid member in numeric match: 1",),
    ),
    Bad(
        "numeric-string-value",
        {"key": [{"numeric": ["=", "000"]}]},
        ("Value of equals must be numeric", '"key"'),
    ),
    Bad("numeric-missing-value", {"key": [{"numeric": [">="]}]}, ("Value of >= must be numeric",)),
    Bad("numeric-bool-value", {"key": [{"numeric": [">", True]}]}, ("Value of > must be numeric",)),
    Bad(
        "numeric-wrong-range-order",
        {"key": [{"numeric": ["<", 100, ">", 10]}]},
        ("Too many elements in numeric expression", '"key"'),
    ),
    Bad(
        "numeric-equals-then-range",
        {"key": [{"numeric": ["=", 1, "<", 10]}]},
        ("Too many elements in numeric expression",),
    ),
    Bad(
        "numeric-two-lower-bounds",
        {"key": [{"numeric": [">=", 1, ">", 2]}]},
        ("Bad numeric range operator: >", '"key"'),
    ),
    Bad(
        "numeric-bottom-above-top",
        {"key": [{"numeric": [">", 3, "<", 1]}]},
        ("Bottom must be less than top", '"key"'),
    ),
    Bad(
        "numeric-bottom-equals-top",
        {"key": [{"numeric": [">=", 3, "<=", 3]}]},
        ("Bottom must be less than top",),
    ),
    Bad(
        "numeric-missing-range-value",
        {"key": [{"numeric": [">", 20, "<="]}]},
        ("Value of <= must be numeric",),
    ),
    Bad(
        "numeric-missing-range-operator",
        {"key": [{"numeric": [">", 20, 30]}]},
        ("Bad value in numeric range: 30", '"key"'),
    ),
    Bad(
        "numeric-bad-second-operator",
        {"key": [{"numeric": [">", 20, "test"]}]},
        ("Bad numeric range operator: test",),
    ),
    Bad(
        "numeric-string-range-1",
        {"key": [{"numeric": [">", "20", "<", "30"]}]},
        ("Value of > must be numeric",),
    ),
    Bad(
        "numeric-string-range-2",
        {"key": [{"numeric": [">", 20, "<", "30"]}]},
        ("Value of < must be numeric",),
    ),
    Bad(
        "numeric-too-many-terms",
        {"key": [{"numeric": [">", 20, "<", 30, "<", 50]}]},
        ("Too many terms in numeric range expression", '"key"'),
    ),
    Bad(
        "numeric-not-a-list",
        {"key": [{"numeric": 5}]},
        ("Value of numeric must be an array.", '"key"'),
    ),
    Bad(
        "numeric-above-limit",
        {"key": [{"numeric": [">", 1000000001]}]},
        ("Value of > must be between -1000000000 and 1000000000", "1000000001", '"key"'),
    ),
    Bad(
        "numeric-below-limit",
        {"key": [{"numeric": [">", 0, "<", -1.5e9]}]},
        ("Value of < must be between",),
    ),
    Bad(
        "numeric-equals-above-limit",
        {"key": [{"numeric": ["=", 1e10]}]},
        ("Value of equals must be between",),
    ),
    # --- cidr --------------------------------------------------------------------------
    Bad("cidr-not-string", {"ip": [{"cidr": 10}]}, ("cidr match pattern must be a string", '"ip"')),
    Bad(
        "cidr-no-slash",
        {"ip": [{"cidr": "10.0.0.1"}]},
        ("Malformed CIDR, one '/' required", "10.0.0.1", '"ip"'),
    ),
    Bad(
        "cidr-two-slashes",
        {"ip": [{"cidr": "10.0.0.0/8/8"}]},
        ("Malformed CIDR, one '/' required",),
    ),
    Bad(
        "cidr-mask-not-int",
        {"ip": [{"cidr": "10.0.0.0/x"}]},
        ("Malformed CIDR, mask bits must be an integer", "10.0.0.0/x"),
    ),
    Bad(
        "cidr-mask-signed",
        {"ip": [{"cidr": "10.0.0.0/+8"}]},
        ("Malformed CIDR, mask bits must be an integer",),
    ),
    Bad(
        "cidr-bad-address",
        {"ip": [{"cidr": "10.0.0.300/24"}]},
        ("Nonstandard IP address: 10.0.0.300", '"ip"'),
    ),
    Bad(
        "cidr-v4-mask-too-big",
        {"ip": [{"cidr": "10.0.0.0/33"}]},
        ("mask bits must be between 0 and 32", "10.0.0.0/33"),
    ),
    Bad(
        "cidr-v6-mask-too-big",
        {"ip": [{"cidr": "2001:db8::/129"}]},
        ("mask bits must be between 0 and 128",),
    ),
    # --- nesting and $or -----------------------------------------------------------------
    Bad(
        "nested-in-attributes",
        {"object": {"key": [{"prefix": "auto-"}]}},
        (
            "Filter policy scope MessageAttributes does not support nested filter policy",
            'at key "object"',
        ),
    ),
    Bad(
        "nested-in-attributes-or-branch",
        {"a": ["x"], "$or": [{"b": ["y"]}, {"c": {"d": ["z"]}}]},
        ("does not support nested filter policy", '"$or[1].c"'),
    ),
    Bad(
        "or-one-object",
        {"$or": [{"a": ["x"]}]},
        ("Unrecognized match type a", '"$or"', "at least two objects"),
    ),
    Bad(
        "or-mixed-items",
        {"$or": [{"a": ["x"]}, "b"]},
        ("Unrecognized match type a", "at least two objects"),
    ),
    Bad("or-empty", {"$or": []}, ("Empty arrays are not allowed", '"$or"')),
    Bad(
        "or-empty-branch",
        {"$or": [{"a": ["x"]}, {}]},
        ("Empty objects are not allowed", '"$or[1]"'),
    ),
    Bad(
        "or-branch-error-named",
        {"$or": [{"a": ["x"]}, {"b": [{"prefix": 1}]}]},
        ("prefix match pattern must be a string", '"$or[1].b"'),
    ),
    Bad("or-not-array", {"$or": "x"}, ('"$or" must be an object or an array',)),
    # --- limits ------------------------------------------------------------------------
    Bad(
        "too-many-keys",
        {f"key{i}": [f"value{i}"] for i in range(1, 7)},
        ("Filter policy can not have more than 5 keys", '"key6"'),
    ),
    Bad(
        "too-many-keys-body",
        {f"key_{c}": [c] for c in "abcdef"},
        ("Filter policy can not have more than 5 keys",),
        BODY,
    ),
    Bad(
        "complexity-one-key",
        {"key": [f"value{i}" for i in range(151)]},
        ("Filter policy is too complex", "151"),
    ),
    Bad(
        "complexity-two-keys",
        {"key1": [f"value{i}" for i in range(100)], "key2": [f"value{i}" for i in range(51)]},
        ("Filter policy is too complex", "5100"),
    ),
    Bad("complexity-or-flat", or_policy(4, 4), ("Filter policy is too complex", "152")),
    Bad(
        "complexity-or-nested",
        {
            "$or": [
                {"metricName": ["CPUUtilization", "ReadLatency", "TestValue"]},
                {"namespace": ["AWS/EC2", "AWS/ES"]},
            ],
            "detail": {
                "scope": ["Service", "Test"],
                "$or": [
                    {"source": ["aws.cloudwatch"]},
                    {"type": ["CloudWatch Alarm State Change", "TestValue", "TestValue2"]},
                ],
            },
        },
        ("Filter policy is too complex", "160"),
        BODY,
    ),
    Bad(
        "complexity-nested-depth",
        {
            "key_a": {"key_b": {"key_c": ["value_one", "value_two", "value_three", "value_four"]}},
            "key_d": {"key_e": ["value_one", "value_two", "value_three"]},
            "key_f": ["value_one", "value_two", "value_three"],
        },
        ("Filter policy is too complex", "216"),
        BODY,
    ),
]


@pytest.mark.parametrize("bad", BAD, ids=[bad.id for bad in BAD])
def test_policy_refused(bad: Bad) -> None:
    """The policy is refused with InvalidParameter and a message naming the fault."""
    error = refuse(bad.policy, bad.scope)
    for fragment in bad.fragments:
        assert fragment in error.message
    if "does not support nested" not in error.message:
        assert error.message.startswith("FilterPolicy: ")


@pytest.mark.parametrize("bad", BAD, ids=[bad.id for bad in BAD])
def test_policy_text_refused_the_same_way(bad: Bad) -> None:
    """The same policy given as JSON text fails with the same message."""
    from_text = refuse(json.dumps(bad.policy), bad.scope)
    assert from_text.message == refuse(bad.policy, bad.scope).message


def test_table_covers_every_rule() -> None:
    """The table of refused policies stays broad."""
    assert len(BAD) >= 80
    assert len({bad.id for bad in BAD}) == len(BAD)


@pytest.mark.parametrize("scope", ["RandomValue", "messageattributes", "", "MessageBody "])
def test_unknown_scope_refused(scope: str) -> None:
    """An unknown scope is refused with AWS's FilterPolicyScope text naming the value."""
    error = refuse({"a": ["x"]}, scope)
    assert error.message == (
        f"FilterPolicyScope: Invalid value [{scope}]. Please use either MessageBody or "
        "MessageAttributes"
    )


def test_scope_checked_even_for_empty_policy() -> None:
    """A bad scope is refused even when the policy is empty."""
    assert "[Attributes]" in refuse({}, "Attributes").message


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("[]", "an array"),
        ('"x"', "a string"),
        ("1", "a number"),
        ("null", "null"),
        ("true", "a boolean"),
    ],
)
def test_policy_text_not_an_object_refused(text: str, kind: str) -> None:
    """Policy text that is valid JSON but not an object is refused, naming what it is."""
    message = refuse(text).message
    assert message == f"FilterPolicy: the policy must be a JSON object, not {kind}"


@pytest.mark.parametrize(
    "text", ["{", "{'a': ['x']}", '{"a": ["x"],}', '{"a": [NaN]}', '{"a": [Infinity]}']
)
def test_invalid_json_refused(text: str) -> None:
    """Policy text that is not JSON is refused with AWS's text, then the parser's reason.

    AWS: "Invalid parameter: FilterPolicy: failed to parse JSON. Unexpected character
    ..." (LocalStack's AWS-validated test_validate_set_sub_attributes snapshot); the
    caller adds the "Invalid parameter: " part.
    """
    message = refuse(text).message
    assert message.startswith("FilterPolicy: failed to parse JSON. ")
    assert len(message) > len("FilterPolicy: failed to parse JSON. ")


def test_policy_not_a_mapping_refused() -> None:
    """A policy that is neither text nor a Mapping is refused, naming its type."""
    message = refuse(cast(Any, [{"a": ["x"]}])).message
    assert "must be a JSON object" in message
    assert "list" in message


def test_non_json_values_in_mapping_refused() -> None:
    """A Mapping holding non-JSON values, keys or non-finite numbers is refused."""
    assert "set" in refuse({"a": [{"x"}]}).message
    assert '"a"' in refuse({"a": [{"x"}]}).message
    assert "1" in refuse(cast(Any, {1: ["x"]})).message
    assert "nan" in refuse({"a": [float("nan")]}).message
    assert "inf" in refuse({"a": [{"numeric": [">", float("inf")]}]}).message


def test_oversized_policy_refused() -> None:
    """A policy over 256 KB is refused, as text and as a Mapping, with its size."""
    big = {"a": ["x" * MAX_POLICY_BYTES]}
    text = json.dumps(big)
    message = refuse(text).message
    assert str(len(text.encode())) in message
    assert "256 KB" in message
    assert "256 KB" in refuse(big).message


def test_policy_just_under_size_limit_accepted() -> None:
    """A policy of exactly 256 KB is accepted."""
    padding = MAX_POLICY_BYTES - len(json.dumps({"a": [""]}, separators=(",", ":")))
    policy = {"a": ["x" * padding]}
    assert len(json.dumps(policy, separators=(",", ":")).encode()) == MAX_POLICY_BYTES
    assert compile_filter_policy(policy) is not None


@pytest.mark.parametrize("levels", [101, 5000])
def test_deeply_nested_policy_refused(levels: int) -> None:
    """A policy nested over 100 levels is refused instead of crashing the interpreter."""
    text = '{"a": ' * levels + '["x"]' + "}" * levels
    assert "nested too deeply" in refuse(text, BODY).message
    nested: dict[str, Any] = {"a": ["x"]}
    for _ in range(levels):
        nested = {"a": nested}
    assert "nested too deeply" in refuse(nested, BODY).message


def test_nesting_up_to_the_depth_limit_accepted() -> None:
    """A policy nested 100 levels deep is accepted and matches the same path."""
    nested: dict[str, Any] = {"a": ["x"]}
    for _ in range(MAX_DEPTH // 2 - 1):
        nested = {"a": nested}
    policy = compile_filter_policy(nested, scope=BODY)
    assert policy is not None
    body: Any = "x"
    for _ in range(MAX_DEPTH // 2):
        body = {"a": body}
    assert policy.matches({}, json.dumps(body))


def test_limits_at_their_boundary_accepted() -> None:
    """Exactly 5 keys, exactly 150 combinations, and -1e9..1e9 operands are accepted."""
    assert compile_filter_policy({f"k{i}": ["v"] for i in range(5)}) is not None
    assert compile_filter_policy({"k": [f"v{i}" for i in range(150)]}) is not None
    assert compile_filter_policy(or_policy(3, 7)) is not None
    numeric = {"k": [{"numeric": [">=", -1000000000, "<=", 1e9]}]}
    assert compile_filter_policy(numeric) is not None


def test_structure_errors_come_before_the_nesting_error() -> None:
    """As recorded on AWS, a bad inner value is reported before the nesting rule."""
    error = refuse({"key": {"suffix": "value"}}, ATTRS)
    assert error.message.startswith('FilterPolicy: "suffix" must be an object or an array')


def test_key_count_checked_before_values() -> None:
    """Six keys are refused for their number even if a value is also bad."""
    policy: dict[str, Any] = {f"k{i}": ["v"] for i in range(5)}
    policy["k5"] = []
    assert "more than 5 keys" in refuse(policy).message
