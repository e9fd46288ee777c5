"""SNS subscription filter policies: validation and a compiled matcher.

A filter policy is compiled once, when a subscription gets it, into a tree of small
closures: an AND node per JSON object, an OR node per ``$or``, and one leaf per policy
key holding pre-built sets of literals and one test per operator. ``matches`` then only
walks that tree; it never looks at the policy's JSON again. Compiling also validates
the policy the way AWS does and raises :class:`InvalidParameter` with AWS's error text.

What matching one message costs
===============================
A published message may hold some 30,000 values under one key (a 256 KiB
``String.Array`` or body array) and a topic may have hundreds of filtered
subscriptions, so testing every value against every condition of every policy can
take seconds. Instead, each key's values are read a bounded number of times per
publish, whatever the number of policies: once to sort them by type, and once for
each index a policy needs, built on first use and shared by all the policies of the
publish (:class:`PublishedMessage`, :class:`_KeyValues`): sets of the strings, the
numbers and the lower-cased strings, the strings sorted and reversed and sorted
(``prefix``, ``suffix``), the numbers sorted (``numeric``), the IP addresses sorted
(``cidr``). Each condition is then one set lookup or one binary search, and SNS bounds
the conditions of a policy (5 keys, 150 combinations). The work per publish is so
O(n log n) in the message's values plus O(log n) per condition. SNS also limits a
topic to 200 filter policies by default (a quota that can be raised); this module
does not count them.

How a message is seen by the matcher
====================================
Every policy key is matched against the *values* the message has under that key. A
value is a ``str``, a :class:`~decimal.Decimal` (every number), a ``bool`` or ``None``
(JSON null). A key is *present* when it yields at least one value.

* ``MessageAttributes`` scope: a ``String`` attribute (with or without a custom label)
  yields its text; a ``Number`` attribute yields its number (its text if it does not
  parse); a ``String.Array`` attribute yields each element of its JSON array (nested
  arrays and objects inside it are ignored). ``Binary`` attributes yield nothing, so the
  matcher treats them as absent: AWS compares policies only with String, String.Array
  and Number attributes [DG constraints] (UNCONFIRMED for ``exists``: a Binary-only
  key matches ``{"exists": false}``, not ``{"exists": true}``).
* ``MessageBody`` scope: the body is parsed once per call with every number as a
  ``Decimal``. A body that is not a JSON object never matches, whatever the policy
  (UNCONFIRMED; LocalStack's AWS-validated test shows plain text and a JSON string not
  delivered). The body is flattened into dotted paths (``{"a": {"b": 1}}`` gives
  ``"a.b"``); arrays are walked through, at any depth, and every scalar inside becomes
  one value of the path. Policy keys are flattened the same way, so the AWS quirk of a
  dotted policy key ``"a.b"`` matching both ``{"a.b": v}`` and ``{"a": {"b": v}}``
  (LocalStack, AWS-validated) follows naturally. An object or an empty array yields no
  value, so such a key counts as absent (UNCONFIRMED).

Matching rules
==============
* Every key of an object must match (AND); ``$or`` branches are alternatives; within
  one key, at least one listed condition must hold for at least one value (the spec's
  "any element" rule for ``String.Array`` attributes and body arrays). Keys are matched
  independently: two keys may be satisfied by different elements of the same body
  array (LocalStack behaviour; AWS's Event Ruler pairs them per element: UNCONFIRMED).
* A missing key matches only ``{"exists": false}``; everything else, ``anything-but``
  and ``null`` included, needs the key present [DG attribute-key-matching; AWS-REC:
  ``[null, {"anything-but": "whatever"}]`` does not deliver a message without the key].
* Literal strings match equal strings only, case-sensitively. Literal numbers match
  numbers numerically (``100`` matches a ``Number`` attribute ``"100.0"`` or ``"1e2"``,
  a body ``100.0``) and never text: ``"100"`` does not match the Number 100 and ``100``
  does not match the String ``"100"``. ``true``/``false``/``null`` match JSON
  ``true``/``false``/``null`` (body or String.Array elements) only. (UNCONFIRMED: the
  type-aware comparison of AWS's Event Ruler, on which SNS's error texts show it runs.)
* ``prefix``, ``suffix``, ``equals-ignore-case`` (``str.lower`` on both sides) and
  ``cidr`` apply to string values only. ``cidr`` parses the value as an IPv4 or IPv6
  address (:mod:`ipaddress`); a value that is not an address does not match; host bits
  in the policy's CIDR are allowed (``10.0.0.1/24`` means ``10.0.0.0/24``).
* ``numeric`` applies to number values only; a ``String`` attribute holding digits is
  not a number (UNCONFIRMED; AWS's examples all use ``Number``). Numbers compare
  exactly as decimals; AWS documents five digits after the point of accuracy, which
  this does not emulate (UNCONFIRMED). Message numbers outside -1e9..1e9 are compared
  too; only policy operands are limited to that range.
* ``anything-but`` with strings/numbers matches any value not equal (same rules as
  literals) to one listed; with ``{"prefix": p}``, any value that is not a string
  starting with ``p``. ``null``, booleans and numbers therefore satisfy a string
  ``anything-but`` (UNCONFIRMED). On an array, one element that is not excluded is
  enough [DG string-value-matching as archived; spec 4.7]. Note: the newest English
  DG page adds "For String.Array type attributes, it matches if none of the array
  elements are listed in the policy property"; this module keeps the spec's rule, and
  which of the two AWS applies today is UNCONFIRMED.
* Only ``prefix`` is accepted inside ``anything-but``: AWS refused ``suffix`` and
  ``exists`` there (``Unsupported anything-but pattern: suffix``, recorded 2024-05-15);
  the stored current DG lists only "String matching using a prefix with the
  anything-but operator", so ``suffix`` and ``equals-ignore-case`` are refused too.

Validation (all :class:`InvalidParameter`)
===========================================
Messages are ``FilterPolicy: <AWS text>`` followed by ``(at key "<path>")`` naming the
key, where ``<path>`` is dotted for nested keys and ``$or[i]`` names a branch. The
exception is the nesting error, which AWS words without the ``FilterPolicy:`` part
(``Filter policy scope MessageAttributes does not support nested filter policy``); a
bad scope gives AWS's ``FilterPolicyScope: Invalid value [...]`` text. Texts recorded
from AWS (2024-05): key count, complexity, non-list value, empty array, nested list,
unknown operator, two operators, prefix/suffix type, exists type, every numeric
syntax error, ``Unsupported anything-but pattern``, the nesting and scope errors, and
``failed to parse JSON.`` for text that is not JSON (followed by Python's reason, not
the Jackson parser's).
UNCONFIRMED texts, taken from AWS's Event Ruler as LocalStack reproduces it: the
anything-but type errors and the CIDR errors (LocalStack reports AWS answering a
non-string ``cidr`` with the *prefix* text; this module says ``cidr match pattern must
be a string``). This module's own texts: policy size, non-object policy,
empty objects, numeric operand range, nesting depth, mask bits out of range.

* Policy text over 256 KB (UTF-8 bytes; for a Mapping, its compact JSON) is refused.
* An empty policy (``{}``, or an empty or blank string: AWS removes a policy set to
  ``""``) compiles to ``None``: match everything.
* At most 5 keys, counted at the top level only, ``$or`` counting as one key
  [DG constraints: "for a nested policy, only parent keys are counted"; how ``$or``
  counts is UNCONFIRMED, this is LocalStack's rule].
* At most 150 combinations. A leaf with ``n`` values at nesting depth ``d`` (1 at the
  top) counts ``d * n``; an object multiplies its keys; ``$or`` adds its branches. This
  reproduces every figure AWS documents or was recorded on: the DG's nested example
  (3x4 x 2x3 x 1x3 = 216, refused), and ``$or`` policies of 152 and 160 (refused) and
  150 (accepted) [AWS-REC 2024-05-14, LocalStack ``test_policy_complexity_with_or``].
* ``$or`` is the OR operator only when its value is an array of at least two objects
  none of which uses an operator name as a key [DG and-or-logic]; otherwise it is an
  ordinary key (so ``{"$or": [{"a": ["x"]}]}`` fails as ``Unrecognized match type a``,
  with a hint about ``$or``).
* Numeric operands must lie within -1e9..1e9 [DG constraints]; literal numbers in
  value lists are not limited (AWS account ids are common there).
* JSON duplicate keys in policy text: the last one wins (Python's parser).
* Objects and arrays nested more than ``MAX_DEPTH`` (100) levels deep are refused
  (this module's own limit, so that validation never depends on the interpreter's
  recursion limit; AWS's is unknown).
"""

from __future__ import annotations

import bisect
import contextlib
import copy
import ipaddress
import json
import math
import re
import socket
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, Final, Literal, TypeAlias, final

from ._attributes import MessageAttributeValue
from ._errors import InvalidParameter, bounded_repr, echo

__all__ = [
    "MAX_COMBINATIONS",
    "MAX_DEPTH",
    "MAX_KEYS",
    "MAX_POLICY_BYTES",
    "NUMERIC_LIMIT",
    "FilterPolicy",
    "FilterPolicyScope",
    "compile_filter_policy",
]

FilterPolicyScope: TypeAlias = Literal["MessageAttributes", "MessageBody"]

MAX_KEYS: Final = 5
MAX_COMBINATIONS: Final = 150
MAX_POLICY_BYTES: Final = 256 * 1024
NUMERIC_LIMIT: Final = Decimal(1_000_000_000)
MAX_DEPTH: Final = 100

_SCOPES: Final = ("MessageAttributes", "MessageBody")
_OPERATORS: Final = frozenset(
    {"prefix", "suffix", "equals-ignore-case", "anything-but", "numeric", "exists", "cidr"}
)
_LOWER_BOUNDS: Final = (">", ">=")
_UPPER_BOUNDS: Final = ("<", "<=")
_NUMERIC_OPERATORS: Final = ("=", *_LOWER_BOUNDS, *_UPPER_BOUNDS)
_MASK_BITS = re.compile(r"[0-9]+")
# Combination counts are capped while computing: every factor is >= 1, so a capped
# count still compares correctly with the limit and big policies stay cheap to check.
_COUNT_CAP: Final = 1_000_000_000

_Value: TypeAlias = str | Decimal | bool | None
_Values: TypeAlias = tuple[_Value, ...]
_Lookup: TypeAlias = Callable[[str], "_KeyValues"]
_Node: TypeAlias = Callable[[_Lookup], bool]
_KeyTest: TypeAlias = Callable[["_KeyValues"], bool]


@final
class FilterPolicy:
    """A validated, compiled subscription filter policy.

    Build one with :func:`compile_filter_policy`. Instances are immutable; two
    policies are equal when they have the same scope and the same normalised JSON.
    """

    __slots__ = ("_canonical", "_root", "_scope", "_source")

    def __init__(self, scope: FilterPolicyScope, source: dict[str, Any], root: _Node) -> None:
        self._scope: FilterPolicyScope = scope
        self._source = source
        self._root = root
        self._canonical = json.dumps(source, sort_keys=True, separators=(",", ":"))

    @property
    def scope(self) -> FilterPolicyScope:
        """What the policy filters on: ``MessageAttributes`` or ``MessageBody``."""
        return self._scope

    @property
    def source(self) -> dict[str, Any]:
        """The policy as plain JSON data (a fresh copy, safe to change)."""
        return copy.deepcopy(self._source)

    def matches(self, attributes: Mapping[str, MessageAttributeValue], body: str) -> bool:
        """Tell whether a published message passes this policy.

        Args:
            attributes: the message attributes as published (used in
                ``MessageAttributes`` scope).
            body: the message body as published (used in ``MessageBody`` scope;
                parsed here, once).

        Returns:
            True if the subscription should receive the message.
        """
        return self.matches_message(PublishedMessage(attributes, body))

    def matches_message(self, message: PublishedMessage) -> bool:
        """Like :meth:`matches`, on a message whose derived values are shared by every
        policy it is matched against (the body is parsed once per publish, not once
        per subscription)."""
        if self._scope == "MessageBody":
            if message.flat_body() is None:
                return False
            return self._root(message.body_values)
        return self._root(message.attribute_values)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FilterPolicy):
            return NotImplemented
        return self._scope == other._scope and self._canonical == other._canonical

    def __hash__(self) -> int:
        return hash((self._scope, self._canonical))

    def __repr__(self) -> str:
        return f"FilterPolicy(scope={self._scope!r}, source={self._canonical})"


class PublishedMessage:
    """A published message as filter policies see it, derived lazily and once.

    Every policy a publish is matched against shares one of these, so each key's
    values, and each index built over them (see :class:`_KeyValues`), are computed at
    most once per publish, however many subscriptions look at them.
    """

    __slots__ = ("_attributes", "_body", "_body_values", "_flat", "_parsed", "_values")

    def __init__(self, attributes: Mapping[str, MessageAttributeValue], body: str) -> None:
        self._attributes = attributes
        self._body = body
        self._flat: dict[str, _Values] | None = None
        self._parsed = False
        self._values: dict[str, _KeyValues] = {}
        self._body_values: dict[str, _KeyValues] = {}

    def flat_body(self) -> dict[str, _Values] | None:
        """Every dotted path of the JSON body with its scalars; None if not an object."""
        if not self._parsed:
            self._flat = _flatten_body(self._body)
            self._parsed = True
        return self._flat

    def attribute_values(self, key: str) -> _KeyValues:
        """The values of one message attribute (an array gives each element)."""
        values = self._values.get(key)
        if values is None:
            values = self._values[key] = _KeyValues(_attribute_values(self._attributes.get(key)))
        return values

    def body_values(self, path: str) -> _KeyValues:
        """The scalars found at one dotted path of the JSON body."""
        values = self._body_values.get(path)
        if values is None:
            flat = self.flat_body() or {}
            values = self._body_values[path] = _KeyValues(flat.get(path, ()))
        return values

    @property
    def element_visits(self) -> int:
        """How many values the matchers have read one by one for this message so far.

        Each key's values are read once to sort them by type, and once more for each
        index a policy needed (see :class:`_KeyValues`): a bounded number of passes,
        whatever the number of policies. Tests use it to show that bound.
        """
        caches = (self._values, self._body_values)
        return sum(values.visits for cache in caches for values in cache.values())


def compile_filter_policy(
    policy: Mapping[str, Any] | str, scope: str = "MessageAttributes"
) -> FilterPolicy | None:
    """Validate a filter policy and compile it into a matcher.

    Args:
        policy: the policy as parsed JSON (a Mapping) or as JSON text.
        scope: ``MessageAttributes`` (the default, as in AWS) or ``MessageBody``.

    Returns:
        The compiled policy, or None for an empty policy (``{}`` or a blank string),
        which lets every message through.

    Raises:
        InvalidParameter: the scope is unknown, or the policy breaks one of AWS's
            rules; the message carries AWS's text and names the offending key.
    """
    checked_scope = _check_scope(scope)
    try:
        if isinstance(policy, str):
            source = _parse_policy_text(policy)
        elif isinstance(policy, Mapping):
            source = _normalise_object(policy, "")
            text = json.dumps(source, separators=(",", ":"), ensure_ascii=False)
            _check_size(len(text.encode("utf-8", "surrogatepass")))
        else:
            raise InvalidParameter(
                "FilterPolicy: the policy must be a JSON object (a str or a Mapping), "
                f"not {type(policy).__name__}"
            )
        if not source:
            return None
        if len(source) > MAX_KEYS:
            names = ", ".join(json.dumps(key, ensure_ascii=False) for key in source)
            raise InvalidParameter(
                f"FilterPolicy: Filter policy can not have more than {MAX_KEYS} keys "
                f"(it has {len(source)}: {names})"
            )
        compiler = _Compiler(checked_scope)
        root, combinations = compiler.compile_object(source, (), "")
    except RecursionError:
        raise InvalidParameter("FilterPolicy: the policy is nested too deeply") from None
    if compiler.nested_at is not None:
        raise InvalidParameter(
            "Filter policy scope MessageAttributes does not support nested filter policy "
            f"(at key {_quote(compiler.nested_at)})"
        )
    if combinations > MAX_COMBINATIONS:
        count = f"more than {_COUNT_CAP:,}" if combinations >= _COUNT_CAP else str(combinations)
        raise InvalidParameter(
            f"FilterPolicy: Filter policy is too complex ({count} combinations of "
            f"values, at most {MAX_COMBINATIONS})"
        )
    return FilterPolicy(checked_scope, source, root)


# --- parsing and normalising the policy ----------------------------------------------


def _check_scope(scope: object) -> FilterPolicyScope:
    if scope == "MessageAttributes":
        return "MessageAttributes"
    if scope == "MessageBody":
        return "MessageBody"
    raise InvalidParameter(
        f"FilterPolicyScope: Invalid value [{echo(scope)}]. Please use either MessageBody or "
        "MessageAttributes"
    )


def _check_size(size: int) -> None:
    if size > MAX_POLICY_BYTES:
        raise InvalidParameter(
            f"FilterPolicy: Filter policy is {size} bytes; the maximum size is "
            f"{MAX_POLICY_BYTES} bytes (256 KB)"
        )


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _parse_policy_text(text: str) -> dict[str, Any]:
    if not text.strip():
        return {}
    _check_size(len(text.encode("utf-8", "surrogatepass")))
    try:
        parsed = json.loads(text, parse_constant=_reject_constant)
    except ValueError as exc:
        raise InvalidParameter(f"FilterPolicy: failed to parse JSON. {exc}") from None
    except RecursionError:
        raise InvalidParameter(
            "FilterPolicy: failed to parse JSON. The policy is nested too deeply to read "
            f"(at most {MAX_DEPTH} levels are allowed)."
        ) from None
    if not isinstance(parsed, dict):
        raise InvalidParameter(
            f"FilterPolicy: the policy must be a JSON object, not {_json_kind(parsed)}"
        )
    return _normalise_object(parsed, "")


def _json_kind(value: object) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return "a number"


def _normalise_object(value: Mapping[Any, Any], where: str, depth: int = 0) -> dict[str, Any]:
    if depth > MAX_DEPTH:
        raise InvalidParameter(
            f"FilterPolicy: the policy is nested too deeply (more than {MAX_DEPTH} levels)"
            + _at(where)
        )
    result: dict[str, Any] = {}
    for key, item in value.items():
        if not isinstance(key, str):
            raise InvalidParameter(
                f"FilterPolicy: keys must be strings, not {type(key).__name__} {bounded_repr(key)}"
                + _at(where)
            )
        result[key] = _normalise(item, _join(where, key), depth + 1)
    return result


def _normalise(value: Any, where: str, depth: int) -> Any:
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidParameter(
                f"FilterPolicy: numbers must be finite, not {value!r}" + _at(where)
            )
        return value
    if isinstance(value, Mapping):
        return _normalise_object(value, where, depth)
    if isinstance(value, list | tuple):
        if depth > MAX_DEPTH:
            raise InvalidParameter(
                f"FilterPolicy: the policy is nested too deeply (more than {MAX_DEPTH} levels)"
                + _at(where)
            )
        return [_normalise(item, where, depth + 1) for item in value]
    raise InvalidParameter(
        "FilterPolicy: Match value must be String, number, true, false, or null "
        f"(got {type(value).__name__})" + _at(where)
    )


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _quote(where: str) -> str:
    return json.dumps(where, ensure_ascii=False)


def _at(where: str) -> str:
    return f" (at key {_quote(where)})" if where else ""


def _to_decimal(number: int | float) -> Decimal:
    # repr() is the shortest text that round-trips, so 301.5 stays Decimal("301.5").
    return Decimal(number) if isinstance(number, int) else Decimal(repr(number))


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# --- compiling ------------------------------------------------------------------------


class _Compiler:
    """Turns a normalised policy into matcher closures, validating as it goes."""

    def __init__(self, scope: FilterPolicyScope) -> None:
        self.scope = scope
        self.nested_at: str | None = None

    def compile_object(
        self, policy: dict[str, Any], prefix: tuple[str, ...], where: str
    ) -> tuple[_Node, int]:
        """Compile one JSON object of the policy: all its keys must match."""
        if not policy:
            raise InvalidParameter("FilterPolicy: Empty objects are not allowed" + _at(where))
        nodes: list[_Node] = []
        combinations = 1
        for key, value in policy.items():
            key_where = _join(where, key)
            if key == "$or" and _is_or_expression(value):
                branches: list[_Node] = []
                total = 0
                for index, branch in enumerate(value):
                    node, count = self.compile_object(branch, prefix, f"{key_where}[{index}]")
                    branches.append(node)
                    total += count
                nodes.append(_any_node(branches))
                count = total
            elif isinstance(value, dict):
                if self.nested_at is None and self.scope == "MessageAttributes":
                    self.nested_at = key_where
                node, count = self.compile_object(value, (*prefix, key), key_where)
                nodes.append(node)
            elif isinstance(value, list):
                path = ".".join((*prefix, key))
                nodes.append(_compile_key(path, key, value, key_where))
                count = len(value) * (len(prefix) + 1)
            else:
                raise InvalidParameter(
                    f"FilterPolicy: {_quote(key)} must be an object or an array"
                    + (_at(key_where) if key_where != key else "")
                )
            combinations = min(combinations * count, _COUNT_CAP)
        return _all_node(nodes), combinations


def _is_or_expression(value: object) -> bool:
    return (
        isinstance(value, list)
        and len(value) >= 2
        and all(isinstance(branch, dict) for branch in value)
        and not any(_OPERATORS.intersection(branch) for branch in value)
    )


def _all_node(nodes: list[_Node]) -> _Node:
    if len(nodes) == 1:
        return nodes[0]
    parts = tuple(nodes)

    def all_match(lookup: _Lookup) -> bool:
        return all(node(lookup) for node in parts)

    return all_match


def _any_node(nodes: list[_Node]) -> _Node:
    parts = tuple(nodes)

    def any_match(lookup: _Lookup) -> bool:
        return any(node(lookup) for node in parts)

    return any_match


def _compile_key(path: str, key: str, conditions: list[Any], where: str) -> _Node:
    """Compile the value list of one key: an OR of its conditions over its values.

    Each condition becomes one test of the key's values as a whole (a set lookup or a
    binary search in an index of them), never a loop over the values, so a message
    with a long array costs each policy no more than a short one.
    """
    if not conditions:
        raise InvalidParameter("FilterPolicy: Empty arrays are not allowed" + _at(where))
    strings: set[str] = set()
    numbers: set[Decimal] = set()
    booleans: set[bool] = set()
    match_null = False
    exists_true = exists_false = False
    tests: list[_KeyTest] = []
    hint = '; an "$or" needs an array of at least two objects' if key == "$or" else ""
    for condition in conditions:
        if condition is None:
            match_null = True
        elif isinstance(condition, bool):
            booleans.add(condition)
        elif isinstance(condition, str):
            strings.add(condition)
        elif _is_number(condition):
            numbers.add(_to_decimal(condition))
        elif isinstance(condition, dict):
            if len(condition) != 1:
                text = (
                    "Empty objects are not allowed"
                    if not condition
                    else ("Only one key allowed in match expression")
                )
                raise InvalidParameter(f"FilterPolicy: {text}" + _at(where))
            ((operator, operand),) = condition.items()
            if operator == "exists":
                if not isinstance(operand, bool):
                    raise InvalidParameter(
                        "FilterPolicy: exists match pattern must be either true or false."
                        + _at(where)
                    )
                if operand:
                    exists_true = True
                else:
                    exists_false = True
            elif operator in _OPERATORS:
                tests.append(_compile_operator(operator, operand, where))
            else:
                raise InvalidParameter(
                    f"FilterPolicy: Unrecognized match type {operator} "
                    f"(at key {_quote(where)}{hint})"
                )
        else:
            raise InvalidParameter(
                "FilterPolicy: Match value must be String, number, true, false, or null"
                + _at(where)
            )

    if exists_true:
        # Presence alone satisfies the key; other conditions cannot add anything.
        def present(lookup: _Lookup) -> bool:
            return bool(lookup(path)) or exists_false

        return present

    tests[:0] = _literal_tests(frozenset(strings), frozenset(numbers), frozenset(booleans))
    if match_null:
        tests.insert(0, _has_null)
    checks = tuple(tests)

    def key_matches(lookup: _Lookup) -> bool:
        values = lookup(path)
        if not values:
            return exists_false
        return any(check(values) for check in checks)

    return key_matches


def _literal_tests(
    strings: frozenset[str], numbers: frozenset[Decimal], booleans: frozenset[bool]
) -> list[_KeyTest]:
    """Tests for a key's literal values: one set intersection per kind."""
    tests: list[_KeyTest] = []
    if strings:
        tests.append(lambda values: not strings.isdisjoint(values.strings))
    if numbers:
        tests.append(lambda values: not numbers.isdisjoint(values.numbers))
    if booleans:
        tests.append(lambda values: not booleans.isdisjoint(values.booleans))
    return tests


def _has_null(values: _KeyValues) -> bool:
    return values.has_null


def _compile_operator(operator: str, operand: Any, where: str) -> _KeyTest:
    if operator in ("prefix", "suffix", "equals-ignore-case"):
        text = _string_operand(operator, operand, where)
        if operator == "prefix":
            return lambda values: values.has_prefix(text)
        if operator == "suffix":
            return lambda values: values.has_suffix(text)
        lowered = text.lower()
        return lambda values: lowered in values.lowered
    if operator == "anything-but":
        return _compile_anything_but(operand, where)
    if operator == "numeric":
        return _compile_numeric(operand, where)
    return _compile_cidr(operand, where)


def _string_operand(operator: str, operand: Any, where: str) -> str:
    if not isinstance(operand, str):
        raise InvalidParameter(
            f"FilterPolicy: {operator} match pattern must be a string" + _at(where)
        )
    return operand


def _compile_anything_but(operand: Any, where: str) -> _KeyTest:
    if isinstance(operand, dict):
        if len(operand) != 1:
            text = (
                "Empty objects are not allowed"
                if not operand
                else ("Only one key allowed in match expression")
            )
            raise InvalidParameter(f"FilterPolicy: {text}" + _at(where))
        ((inner, inner_operand),) = operand.items()
        if inner != "prefix":
            raise InvalidParameter(
                f"FilterPolicy: Unsupported anything-but pattern: {inner}" + _at(where)
            )
        prefix = _string_operand("prefix", inner_operand, where)
        return lambda values: values.has_other_than_prefix(prefix)
    if isinstance(operand, list):
        if not operand:
            raise InvalidParameter("FilterPolicy: Empty arrays are not allowed" + _at(where))
        excluded = operand
    elif isinstance(operand, str) or _is_number(operand):
        excluded = [operand]
    else:
        raise InvalidParameter(
            "FilterPolicy: Value of anything-but must be an array or single string/number "
            "value." + _at(where)
        )
    strings: set[str] = set()
    numbers: set[Decimal] = set()
    for item in excluded:
        if isinstance(item, str):
            strings.add(item)
        elif _is_number(item):
            numbers.add(_to_decimal(item))
        else:
            raise InvalidParameter(
                "FilterPolicy: Inside anything-but list, start|null|boolean is not supported."
                + _at(where)
            )
    frozen_strings = frozenset(strings)
    frozen_numbers = frozenset(numbers)

    def anything_but(values: _KeyValues) -> bool:
        # One value that is not excluded is enough; null and booleans never are.
        # (A set is a subset of a smaller one only when the sizes say it may be, so
        # each comparison costs at most the size of the policy's list.)
        return (
            values.has_null
            or bool(values.booleans)
            or not values.strings <= frozen_strings
            or not values.numbers <= frozen_numbers
        )

    return anything_but


def _numeric_operand(operator: str, terms: list[Any], index: int, where: str) -> Decimal:
    name = "equals" if operator == "=" else operator
    operand = terms[index] if index < len(terms) else None
    if not isinstance(operand, int | float) or isinstance(operand, bool):
        raise InvalidParameter(f"FilterPolicy: Value of {name} must be numeric" + _at(where))
    number = _to_decimal(operand)
    if not -NUMERIC_LIMIT <= number <= NUMERIC_LIMIT:
        raise InvalidParameter(
            f"FilterPolicy: Value of {name} must be between -1000000000 and 1000000000 "
            f"(got {json.dumps(operand)})" + _at(where)
        )
    return number


def _compile_numeric(terms: Any, where: str) -> _KeyTest:
    if not isinstance(terms, list):
        raise InvalidParameter("FilterPolicy: Value of numeric must be an array." + _at(where))
    if not terms:
        raise InvalidParameter("FilterPolicy: Invalid member in numeric match: ]" + _at(where))
    first = terms[0]
    if not isinstance(first, str):
        raise InvalidParameter(
            f"FilterPolicy: Invalid member in numeric match: {json.dumps(first)}" + _at(where)
        )
    if first not in _NUMERIC_OPERATORS:
        raise InvalidParameter(
            f"FilterPolicy: Unrecognized numeric range operator: {first}" + _at(where)
        )
    first_value = _numeric_operand(first, terms, 1, where)
    lower: Decimal | None = None
    upper: Decimal | None = None
    lower_inclusive = upper_inclusive = True
    if first == "=":
        lower = upper = first_value
    elif first in _LOWER_BOUNDS:
        lower, lower_inclusive = first_value, first == ">="
    else:
        upper, upper_inclusive = first_value, first == "<="
    if len(terms) > 2:
        if first not in _LOWER_BOUNDS:
            raise InvalidParameter(
                "FilterPolicy: Too many elements in numeric expression" + _at(where)
            )
        second = terms[2]
        if not isinstance(second, str):
            raise InvalidParameter(
                f"FilterPolicy: Bad value in numeric range: {json.dumps(second)}" + _at(where)
            )
        if second not in _UPPER_BOUNDS:
            raise InvalidParameter(
                f"FilterPolicy: Bad numeric range operator: {second}" + _at(where)
            )
        upper = _numeric_operand(second, terms, 3, where)
        upper_inclusive = second == "<="
        if lower is not None and upper <= lower:
            raise InvalidParameter("FilterPolicy: Bottom must be less than top" + _at(where))
        if len(terms) > 4:
            raise InvalidParameter(
                "FilterPolicy: Too many terms in numeric range expression" + _at(where)
            )
    return lambda values: values.has_number_in(lower, lower_inclusive, upper, upper_inclusive)


def _compile_cidr(operand: Any, where: str) -> _KeyTest:
    if not isinstance(operand, str):
        raise InvalidParameter("FilterPolicy: cidr match pattern must be a string" + _at(where))
    parts = operand.split("/")
    if len(parts) != 2:
        raise InvalidParameter(
            f"FilterPolicy: Malformed CIDR, one '/' required: {operand}" + _at(where)
        )
    address, bits = parts
    if not _MASK_BITS.fullmatch(bits):
        raise InvalidParameter(
            f"FilterPolicy: Malformed CIDR, mask bits must be an integer: {operand}" + _at(where)
        )
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        raise InvalidParameter(
            f"FilterPolicy: Nonstandard IP address: {address}" + _at(where)
        ) from None
    if int(bits) > ip.max_prefixlen:
        raise InvalidParameter(
            f"FilterPolicy: Malformed CIDR, mask bits must be between 0 and {ip.max_prefixlen}: "
            f"{operand}" + _at(where)
        )
    network = ipaddress.ip_network(f"{ip}/{int(bits)}", strict=False)
    version = network.version
    first = int(network.network_address)
    last = int(network.broadcast_address)
    return lambda values: values.has_address_in(version, first, last)


# --- reading the message ----------------------------------------------------------------


class _KeyValues:
    """The values a message offers one policy key, and indexes over them.

    A policy's conditions test a key's values as a whole, through these indexes, so
    that the cost of matching does not grow with the product of the message's values
    and the policies' conditions (a 256 KiB message holds up to some 30,000 array
    elements, and a topic may have hundreds of filtered subscriptions). The values are
    sorted by type once; each index is built on first use, once per message, shared
    by every policy: ``strings`` and ``numbers`` (sets, for literals and
    ``anything-but``), ``lowered`` (``equals-ignore-case``), sorted strings and sorted
    reversed strings (``prefix`` and ``suffix`` by binary search), sorted numbers
    (``numeric`` ranges) and sorted addresses per IP version (``cidr``). ``visits``
    counts the values read one by one while building them.
    """

    __slots__ = (
        "_addresses",
        "_lowered",
        "_number_list",
        "_reversed",
        "_sorted",
        "booleans",
        "has_null",
        "numbers",
        "present",
        "strings",
        "visits",
    )

    def __init__(self, values: Sequence[Any]) -> None:
        # One pass per type, each a comprehension (far cheaper than one Python loop
        # with a branch per value); arrays and objects inside an array are no values.
        strings: list[str] = [value for value in values if value.__class__ is str]
        self.visits = len(values)
        self.strings = frozenset(strings)
        if len(strings) == len(values):
            self.numbers: frozenset[Decimal] = frozenset()
            self.booleans: frozenset[bool] = frozenset()
            self.has_null = False
            self.present = bool(strings)
        else:
            self.numbers = frozenset([value for value in values if value.__class__ is Decimal])
            self.booleans = frozenset([value for value in values if value.__class__ is bool])
            self.has_null = any(value is None for value in values)
            self.present = bool(strings or self.numbers or self.booleans or self.has_null)
            self.visits += 3 * len(values)
        self._sorted: list[str] | None = None
        self._reversed: list[str] | None = None
        self._lowered: frozenset[str] | None = None
        self._number_list: list[Decimal] | None = None
        self._addresses: dict[int, list[int]] | None = None

    def __bool__(self) -> bool:
        return self.present

    def _sorted_strings(self) -> list[str]:
        if self._sorted is None:
            self._sorted = sorted(self.strings)
            self.visits += len(self._sorted)
        return self._sorted

    @property
    def lowered(self) -> frozenset[str]:
        """Every string value, lower-cased."""
        if self._lowered is None:
            self._lowered = frozenset(map(str.lower, self.strings))
            self.visits += len(self.strings)
        return self._lowered

    def has_prefix(self, prefix: str) -> bool:
        """Whether a string value starts with ``prefix``."""
        return _sorted_has_prefix(self._sorted_strings(), prefix)

    def has_suffix(self, suffix: str) -> bool:
        """Whether a string value ends with ``suffix``."""
        if self._reversed is None:
            self._reversed = sorted([text[::-1] for text in self.strings])
            self.visits += len(self._reversed)
        return _sorted_has_prefix(self._reversed, suffix[::-1])

    def has_other_than_prefix(self, prefix: str) -> bool:
        """Whether a value is not a string starting with ``prefix``."""
        if self.has_null or self.booleans or self.numbers:
            return True
        texts = self._sorted_strings()
        # The strings starting with ``prefix`` sit together in sorted order, so one
        # that does not is at one end or the other.
        return not (texts[0].startswith(prefix) and texts[-1].startswith(prefix))

    def has_number_in(
        self,
        lower: Decimal | None,
        lower_inclusive: bool,
        upper: Decimal | None,
        upper_inclusive: bool,
    ) -> bool:
        """Whether a number value lies in the range (None: unbounded on that side)."""
        if self._number_list is None:
            self._number_list = sorted(self.numbers)
            self.visits += len(self._number_list)
        numbers = self._number_list
        if lower is None:
            index = 0
        elif lower_inclusive:
            index = bisect.bisect_left(numbers, lower)
        else:
            index = bisect.bisect_right(numbers, lower)
        if index == len(numbers):
            return False
        smallest = numbers[index]
        return upper is None or smallest < upper or (upper_inclusive and smallest == upper)

    def has_address_in(self, version: int, first: int, last: int) -> bool:
        """Whether a string value is an IP address of ``version`` in ``first..last``."""
        if self._addresses is None:
            self._addresses = _read_addresses(self.strings)
            self.visits += len(self.strings)
        addresses = self._addresses[version]
        index = bisect.bisect_left(addresses, first)
        return index < len(addresses) and addresses[index] <= last


def _sorted_has_prefix(texts: list[str], prefix: str) -> bool:
    # Strings starting with ``prefix`` are the smallest ones not smaller than it.
    index = bisect.bisect_left(texts, prefix)
    return index < len(texts) and texts[index].startswith(prefix)


def _read_addresses(texts: frozenset[str]) -> dict[int, list[int]]:
    """The IP addresses among ``texts``, as :mod:`ipaddress` reads them, sorted by
    version (4 and 6), each as an integer.

    The common forms go through :func:`socket.inet_pton` (a pure conversion, no I/O),
    some 10 times faster than :func:`ipaddress.ip_address`: both accept exactly a
    dotted quad of decimal numbers without leading zeros for IPv4, and the RFC 4291
    text forms for IPv6 (a property test checks that they agree). An IPv6 address
    with a zone (``fe80::1%eth0``), which only :mod:`ipaddress` reads, goes there.
    """
    found: dict[int, list[int]] = {4: [], 6: []}
    pton = socket.inet_pton
    from_bytes = int.from_bytes
    for text in texts:
        if ":" in text:
            version, family = 6, socket.AF_INET6
        elif "." in text:
            version, family = 4, socket.AF_INET
        else:
            continue
        try:
            found[version].append(from_bytes(pton(family, text)))
        except (OSError, ValueError):
            if version == 6 and "%" in text:
                with contextlib.suppress(ValueError):
                    found[6].append(int(ipaddress.IPv6Address(text)))
    for addresses in found.values():
        addresses.sort()
    return found


def _parse_json_numbers_exact(text: str) -> Any:
    return json.loads(text, parse_float=Decimal, parse_int=Decimal, parse_constant=_reject_constant)


def _attribute_values(attribute: MessageAttributeValue | None) -> Sequence[object]:
    if attribute is None or attribute.string_value is None:
        return ()
    text = attribute.string_value
    if attribute.data_type == "String.Array":
        try:
            elements = _parse_json_numbers_exact(text)
        except (ValueError, RecursionError):
            return ()
        return elements if isinstance(elements, list) else ()
    base = attribute.base_type
    if base == "String":
        return (text,)
    if base == "Number":
        try:
            number = Decimal(text)
        except InvalidOperation:
            return (text,)
        return (number,) if number.is_finite() else (text,)
    return ()


def _flatten_body(body: str) -> dict[str, _Values] | None:
    """Map every dotted path of a JSON-object body to the scalars found there."""
    try:
        document = _parse_json_numbers_exact(body)
    except (ValueError, RecursionError):
        return None
    if not isinstance(document, dict):
        return None
    found: dict[str, list[_Value]] = {}
    stack: list[tuple[str, Any]] = [(key, value) for key, value in document.items()]
    while stack:
        path, value = stack.pop()
        if isinstance(value, dict):
            stack.extend((f"{path}.{key}", item) for key, item in value.items())
        elif isinstance(value, list):
            stack.extend((path, item) for item in value)
        else:
            found.setdefault(path, []).append(value)
    return {path: tuple(values) for path, values in found.items()}
