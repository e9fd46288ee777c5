"""Property test: the compiled matcher agrees with a naive reference interpreter.

The reference reads the raw policy JSON on every call and does everything the slow,
obvious way: it expands every ``$or`` into separate flat policies (one per choice),
walks the whole body for every key it looks up, and compares each condition with each
value. The compiled matcher shares no code with it.
"""

from __future__ import annotations

import ipaddress
import itertools
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from eventbus._core._attributes import MessageAttributeValue
from eventbus._core._errors import InvalidParameter
from eventbus._core._filter_policy import compile_filter_policy

ATTRS = "MessageAttributes"
BODY = "MessageBody"
OPERATORS = {"prefix", "suffix", "equals-ignore-case", "anything-but", "numeric", "exists", "cidr"}

# --- the naive reference ------------------------------------------------------------------


def is_or(key: str, value: Any) -> bool:
    """Whether ``key: value`` is an ``$or`` expression rather than a plain key."""
    return (
        key == "$or"
        and isinstance(value, list)
        and len(value) >= 2
        and all(isinstance(branch, dict) for branch in value)
        and all(not (set(branch) & OPERATORS) for branch in value)
    )


def expand(policy: dict[str, Any], prefix: str = "") -> list[dict[str, list[Any]]]:
    """Every flat policy (dotted path -> condition list) the ``$or``s allow."""
    per_key: list[list[dict[str, list[Any]]]] = []
    for key, value in policy.items():
        if is_or(key, value):
            per_key.append([flat for branch in value for flat in expand(branch, prefix)])
        elif isinstance(value, dict):
            path = f"{prefix}.{key}" if prefix else key
            per_key.append(expand(value, path))
        else:
            path = f"{prefix}.{key}" if prefix else key
            per_key.append([{path: value}])
    result = []
    for choice in itertools.product(*per_key):
        merged: dict[str, list[Any]] = {}
        for part in choice:
            for path, conditions in part.items():
                # Two branches may constrain the same path: both must hold (kept apart).
                merged[path + "\0" + str(len(merged))] = conditions
        result.append(merged)
    return result


def leaves(document: Any, path: str) -> Iterator[tuple[str, Any]]:
    """Every (dotted path, scalar) pair of a JSON document."""
    if isinstance(document, dict):
        for key, value in document.items():
            yield from leaves(value, f"{path}.{key}" if path else key)
    elif isinstance(document, list):
        for item in document:
            yield from leaves(item, path)
    else:
        yield path, document


def attribute_values(attribute: MessageAttributeValue | None) -> list[Any]:
    """The values a message attribute offers to the policy."""
    if attribute is None or attribute.string_value is None:
        return []
    if attribute.data_type == "String.Array":
        try:
            items = json.loads(attribute.string_value, parse_float=Decimal, parse_int=Decimal)
        except ValueError:
            return []
        if not isinstance(items, list):
            return []
        return [item for item in items if not isinstance(item, dict | list)]
    if attribute.data_type.startswith("Number"):
        return [Decimal(attribute.string_value)]
    if attribute.data_type.startswith("String"):
        return [attribute.string_value]
    return []


def not_json(constant: str) -> Any:
    """Refuse NaN and Infinity, which are not JSON."""
    raise ValueError(constant)


def same_literal(literal: Any, value: Any) -> bool:
    """Whether a policy literal equals a message value (type-aware)."""
    if literal is None or isinstance(literal, bool):
        return value is literal
    if isinstance(literal, str):
        return isinstance(value, str) and value == literal
    return isinstance(value, Decimal) and value == Decimal(repr(literal))


def numeric_ok(terms: list[Any], value: Any) -> bool:
    """Whether a number satisfies every (operator, operand) pair of a numeric condition."""
    if not isinstance(value, Decimal):
        return False
    for operator, operand in zip(terms[::2], terms[1::2], strict=True):
        bound = Decimal(repr(operand))
        checks = {
            "=": value == bound,
            "<": value < bound,
            "<=": value <= bound,
            ">": value > bound,
            ">=": value >= bound,
        }
        if not checks[operator]:
            return False
    return True


def condition_ok(condition: Any, value: Any) -> bool:
    """Whether one condition (not ``exists``) holds for one value."""
    if not isinstance(condition, dict):
        return same_literal(condition, value)
    ((operator, operand),) = condition.items()
    text = value if isinstance(value, str) else None
    if operator == "prefix":
        return text is not None and text.startswith(operand)
    if operator == "suffix":
        return text is not None and text.endswith(operand)
    if operator == "equals-ignore-case":
        return text is not None and text.lower() == operand.lower()
    if operator == "numeric":
        return numeric_ok(operand, value)
    if operator == "cidr":
        try:
            address = ipaddress.ip_address(text) if text is not None else None
        except ValueError:
            return False
        network = ipaddress.ip_network(operand, strict=False)
        return address is not None and address.version == network.version and (address in network)
    assert operator == "anything-but"
    if isinstance(operand, dict):
        return not (text is not None and text.startswith(operand["prefix"]))
    excluded = operand if isinstance(operand, list) else [operand]
    return not any(same_literal(item, value) for item in excluded)


def key_ok(values: list[Any], conditions: list[Any]) -> bool:
    """Whether one key's condition list accepts the values found for it."""
    for condition in conditions:
        if isinstance(condition, dict) and "exists" in condition:
            if condition["exists"] == bool(values):
                return True
            continue
        if any(condition_ok(condition, value) for value in values):
            return True
    return False


def reference_matches(
    policy: dict[str, Any], scope: str, attributes: dict[str, MessageAttributeValue], body: str
) -> bool:
    """The slow, obvious verdict for one message."""
    if scope == BODY:
        try:
            document = json.loads(
                body, parse_float=Decimal, parse_int=Decimal, parse_constant=not_json
            )
        except ValueError:
            return False
        if not isinstance(document, dict):
            return False

        def values_of(path: str) -> list[Any]:
            return [value for where, value in leaves(document, "") if where == path]

    else:

        def values_of(path: str) -> list[Any]:
            return attribute_values(attributes.get(path))

    return any(
        all(key_ok(values_of(key.split("\0")[0]), conditions) for key, conditions in flat.items())
        for flat in expand(policy)
    )


# --- generators ------------------------------------------------------------------------------

KEYS = ["a", "b", "c"]
TEXTS = ["", "x", "X", "xy", "yx", "10.0.0.1", "2001:db8::1", "1"]
NUMBERS: list[int | float] = [-1, 0, 0.5, 1, 2, 1000000000]
CIDRS = ["10.0.0.0/24", "2001:db8::/32", "0.0.0.0/0", "10.0.0.1/32"]
NUMBER_TEXTS = ["0", "-0", "1", "1.0", "1e0", "0.5", "5e-1", "2", "-1", "1000000000", "3"]

texts = st.sampled_from(TEXTS)
numbers = st.sampled_from(NUMBERS)


@st.composite
def numeric_terms(draw: st.DrawFn) -> list[Any]:
    """A valid ``numeric`` operand list."""
    form = draw(st.sampled_from(["=", "lower", "upper", "range"]))
    first = draw(numbers)
    if form == "=":
        return ["=", first]
    if form == "upper":
        return [draw(st.sampled_from(["<", "<="])), first]
    lower = [draw(st.sampled_from([">", ">="])), first]
    if form == "lower" or first == max(NUMBERS):
        return lower
    top = draw(numbers.filter(lambda number: number > first))
    return [*lower, draw(st.sampled_from(["<", "<="])), top]


conditions = st.one_of(
    texts,
    numbers,
    st.sampled_from([True, False, None]),
    st.builds(lambda text: {"prefix": text}, texts),
    st.builds(lambda text: {"suffix": text}, texts),
    st.builds(lambda text: {"equals-ignore-case": text}, texts),
    st.builds(lambda flag: {"exists": flag}, st.booleans()),
    st.builds(lambda cidr: {"cidr": cidr}, st.sampled_from(CIDRS)),
    st.builds(lambda terms: {"numeric": terms}, numeric_terms()),
    st.builds(lambda item: {"anything-but": item}, st.one_of(texts, numbers)),
    st.builds(
        lambda items: {"anything-but": items},
        st.lists(st.one_of(texts, numbers), min_size=1, max_size=3),
    ),
    st.builds(lambda text: {"anything-but": {"prefix": text}}, texts),
)
condition_lists = st.lists(conditions, min_size=1, max_size=2)


def policy_objects(scope: str, depth: int) -> st.SearchStrategy[dict[str, Any]]:
    """Policy objects: leaves, ``$or`` of sub-objects and (body scope) nested keys."""
    values: st.SearchStrategy[Any] = condition_lists
    if depth > 0 and scope == BODY:
        values = st.one_of(condition_lists, policy_objects(scope, depth - 1))
    plain = st.dictionaries(st.sampled_from(KEYS), values, min_size=1, max_size=2)
    if depth == 0:
        return plain
    alternatives = st.lists(policy_objects(scope, depth - 1), min_size=2, max_size=2)
    return st.builds(
        lambda base, branches: {**base, "$or": branches} if branches else base,
        plain,
        st.one_of(st.none(), st.none(), alternatives),
    )


scalars = st.one_of(texts, numbers, st.sampled_from([True, False, None]))
leaf_values = st.one_of(scalars, st.lists(scalars, max_size=3))


def json_values(depth: int) -> st.SearchStrategy[Any]:
    """JSON values for message bodies, with nesting, arrays and dotted keys."""
    if depth == 0:
        return scalars
    inner = json_values(depth - 1)
    return st.one_of(
        scalars,
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from([*KEYS, "a.b", "b.c"]), inner, max_size=3),
    )


random_bodies = st.one_of(
    st.dictionaries(st.sampled_from([*KEYS, "a.b", "a.c", "b.a"]), json_values(2), max_size=4).map(
        json.dumps
    ),
    st.sampled_from(["not json", "[1, 2]", '"x"', "null", "{", '{"a": NaN}']),
)

attribute_values_strategy = st.one_of(
    st.builds(lambda text: MessageAttributeValue("String", text), texts),
    st.builds(lambda text: MessageAttributeValue("Number", text), st.sampled_from(NUMBER_TEXTS)),
    st.builds(
        lambda items: MessageAttributeValue("String.Array", json.dumps(items)),
        st.lists(scalars, max_size=3),
    ),
    st.just(MessageAttributeValue("String.Array", "[broken")),
    st.just(MessageAttributeValue("Binary", binary_value=b"\x01")),
    st.builds(
        lambda text: MessageAttributeValue("Number.custom", text), st.sampled_from(NUMBER_TEXTS)
    ),
    st.builds(lambda text: MessageAttributeValue("String.custom", text), texts),
)


def policy_paths(policy: dict[str, Any], prefix: str = "") -> dict[str, list[Any]]:
    """Every dotted key path a policy constrains, with values its conditions mention."""
    paths: dict[str, list[Any]] = {}
    for key, value in policy.items():
        path = f"{prefix}.{key}" if prefix else key
        if is_or(key, value):
            for branch in value:
                for inner, hints in policy_paths(branch, prefix).items():
                    paths.setdefault(inner, []).extend(hints)
        elif isinstance(value, dict):
            for inner, hints in policy_paths(value, path).items():
                paths.setdefault(inner, []).extend(hints)
        else:
            paths.setdefault(path, []).extend(mentioned(value))
    return paths


def mentioned(conditions: list[Any]) -> list[Any]:
    """Values that sit on the edge of the given conditions (likely to match or not)."""
    hints: list[Any] = []
    for condition in conditions:
        if not isinstance(condition, dict):
            hints.append(condition)
            continue
        ((operator, operand),) = condition.items()
        if operator in ("prefix", "suffix"):
            hints += [operand, operand + "x", "x" + operand]
        elif operator == "equals-ignore-case":
            hints += [operand.upper(), operand.lower()]
        elif operator == "numeric":
            hints += [term for term in operand if not isinstance(term, str)]
        elif operator == "cidr":
            hints.append(operand.split("/")[0])
        elif operator == "anything-but":
            hints += operand if isinstance(operand, list) else [operand]
    return [hint for hint in hints if not isinstance(hint, dict)]


def attributes_for(data: st.DataObject, policy: dict[str, Any]) -> dict[str, Any]:
    """Attributes named like the policy's keys (some left out), plus a stray one."""
    paths = policy_paths(policy)
    attributes: dict[str, MessageAttributeValue] = {}
    for name in [*sorted(paths), "stray"]:
        if data.draw(st.integers(0, 3)) == 0:
            continue
        hints = [hint for hint in paths.get(name, []) if hint is not None]
        use_hint: bool = data.draw(st.booleans())
        if hints and use_hint:
            hint = data.draw(st.sampled_from(hints))
            if isinstance(hint, str):
                attributes[name] = MessageAttributeValue("String", hint)
            elif isinstance(hint, bool):
                attributes[name] = MessageAttributeValue("String.Array", json.dumps([hint]))
            else:
                attributes[name] = MessageAttributeValue("Number", repr(hint))
        else:
            attributes[name] = data.draw(attribute_values_strategy)
    return attributes


def body_for(data: st.DataObject, policy: dict[str, Any]) -> str:
    """A JSON body holding (some of) the policy's paths, nested or dotted, plus noise."""
    document: dict[str, Any] = {}
    for path, hints in sorted(policy_paths(policy).items()):
        if data.draw(st.integers(0, 3)) == 0:
            continue
        use_hint: bool = data.draw(st.booleans())
        candidates = st.sampled_from(hints) if hints and use_hint else leaf_values
        value = data.draw(candidates)
        parts = path.split(".")
        split = data.draw(st.integers(1, len(parts)))
        keys = [".".join(parts[:split]), *parts[split:]]
        target = document
        for key in keys[:-1]:
            inner = target.setdefault(key, {})
            if not isinstance(inner, dict):
                break
            target = inner
        else:
            if data.draw(st.booleans()) and isinstance(target.get(keys[-1]), list):
                target[keys[-1]].append(value)
            else:
                target[keys[-1]] = value
    if data.draw(st.booleans()):
        document["stray"] = data.draw(json_values(1))
    if data.draw(st.booleans()):
        # Wrap everything in an array of objects one level down, as S3 events do.
        document = {
            key: [value, {}] if isinstance(value, dict) else value
            for key, value in document.items()
        }
    return json.dumps(document)


def compiled(policy: dict[str, Any], scope: str) -> Any:
    """Compile, skipping the generated policies AWS would refuse as too complex."""
    try:
        result = compile_filter_policy(policy, scope=scope)
    except InvalidParameter as error:
        assume("too complex" not in error.message)
        raise
    assert result is not None
    return result


# --- properties ------------------------------------------------------------------------------

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(policy=policy_objects(ATTRS, 2), data=st.data())
def test_attributes_scope_agrees_with_reference(
    policy: dict[str, Any], data: st.DataObject
) -> None:
    """On message attributes, the compiled matcher and the reference agree."""
    matcher = compiled(policy, ATTRS)
    attributes = attributes_for(data, policy)
    expected = reference_matches(policy, ATTRS, attributes, "")
    assert matcher.matches(attributes, "") is expected


@SETTINGS
@given(policy=policy_objects(BODY, 2), data=st.data())
def test_body_scope_agrees_with_reference(policy: dict[str, Any], data: st.DataObject) -> None:
    """On message bodies built from the policy's paths, matcher and reference agree."""
    matcher = compiled(policy, BODY)
    body = body_for(data, policy)
    expected = reference_matches(policy, BODY, {}, body)
    assert matcher.matches({}, body) is expected


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policy=policy_objects(BODY, 1), body=random_bodies)
def test_random_bodies_agree_with_reference(policy: dict[str, Any], body: str) -> None:
    """On arbitrary bodies (nested, dotted, not JSON, not objects), they agree too."""
    matcher = compiled(policy, BODY)
    assert matcher.matches({}, body) is reference_matches(policy, BODY, {}, body)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policy=policy_objects(BODY, 2), data=st.data())
def test_text_and_mapping_policies_behave_alike(
    policy: dict[str, Any], data: st.DataObject
) -> None:
    """A policy compiled from JSON text behaves exactly like the same Mapping."""
    from_mapping = compiled(policy, BODY)
    from_text = compile_filter_policy(json.dumps(policy), scope=BODY)
    assert from_text == from_mapping
    assert from_text is not None
    assert from_text.source == policy
    body = body_for(data, policy)
    assert from_text.matches({}, body) is from_mapping.matches({}, body)


long_array_items = st.one_of(
    scalars,
    st.sampled_from(["10.0.0.7", "10.0.1.1", "2001:db8::7", "fe80::1%eth0", "xy1", "Xy", "y"]),
    st.sampled_from(["s", "sx", "xs", "010.0.0.1", "::ffff:10.0.0.1", "1e1", "-0.5"]),
)


@SETTINGS
@given(policy=policy_objects(ATTRS, 1), items=st.lists(long_array_items, max_size=40))
def test_long_arrays_agree_with_reference(policy: dict[str, Any], items: list[Any]) -> None:
    """Arrays of many values (read through the matcher's indexes) agree with the reference."""
    matcher = compiled(policy, ATTRS)
    array = MessageAttributeValue("String.Array", json.dumps(items))
    attributes = dict.fromkeys(KEYS, array)
    assert matcher.matches(attributes, "") is reference_matches(policy, ATTRS, attributes, "")


ip_like = st.one_of(
    st.ip_addresses().map(str),
    st.ip_addresses(v=6).map(lambda address: f"{address}%eth0"),
    st.ip_addresses(v=6).map(lambda address: address.exploded),
    st.ip_addresses(v=4).map(lambda address: "0" + str(address)),
    st.text(alphabet="0123456789abcdefABCDEF:.%x ", max_size=45),
)


@settings(max_examples=500, deadline=None)
@given(text=ip_like)
def test_address_reading_agrees_with_ipaddress(text: str) -> None:
    """The fast address reader accepts what ipaddress.ip_address does, with its value."""
    from eventbus._core._filter_policy import _read_addresses

    found = _read_addresses(frozenset([text]))
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        assert found == {4: [], 6: []}
    else:
        assert found[address.version] == [int(address)]
        assert found[10 - address.version] == []
