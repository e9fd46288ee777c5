"""A queue's access policy: the ``Policy`` attribute, AddPermission and RemovePermission,
and whether a policy lets a topic deliver to the queue.

What AddPermission builds (a recording of AWS in LocalStack's
``test_sqs_permission_lifecycle`` snapshot): a policy ``{"Version": "2008-10-17",
"Id": "<queue-arn>/SQSDefaultPolicy", "Statement": [...]}`` whose statement per label
is ``{"Sid": label, "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::<acct>:root"},
"Action": "SQS:<action>", "Resource": "<queue-arn>"}``; several accounts or actions
make lists. A label used already is refused ("Value <label> for parameter Label is
invalid. Reason: Already exists."), so is removing a label that is not there ("...
Reason: can't find label."); removing the last statement removes the policy. The
other refusals follow moto, which follows AWS's API reference: no actions
(``MissingParameter``), no accounts ("Value [] for parameter PrincipalId is invalid.
Reason: Unable to verify."), more than seven actions (``OverLimit``, "<n> Actions
were found, maximum allowed is 7."), an action only the queue's owner may call ("...
Reason: Only the queue owner is allowed to invoke this action."). Unknown action
names get the text LocalStack gives ("... Please refer to the appropriate WSDL for a
list of valid actions."). SQS's policy quota is 20 statements.

SNS delivers to a queue only if the queue's policy allows it: a statement with
``"Effect": "Allow"``, a principal of ``{"Service": "sns.amazonaws.com"}`` or ``"*"``
(or ``{"AWS": "*"}``), an action that matches ``sqs:SendMessage`` (``sqs:*``, ``*``,
any case, ``*``/``?`` wildcards), a resource that matches the queue's ARN, and a
condition, if any, that holds for the topic (``ArnEquals``/``ArnLike``/
``StringEquals``/``StringLike`` on ``aws:SourceArn``, ``StringEquals`` on
``aws:SourceAccount``); and no ``Deny`` statement that matches the same way. A
statement with a condition operator or key not listed here, or with ``NotAction``,
``NotPrincipal`` or ``NotResource``, is taken as not matching: an Allow of that kind
does not let the delivery through (documented as a limitation).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from ._errors import (
    InvalidAttributeValue,
    InvalidParameterValue,
    MissingParameter,
    OverLimit,
)

POLICY_VERSION = "2008-10-17"
MAX_ACTIONS = 7
MAX_STATEMENTS = 20
MAX_POLICY_BYTES = 8_192

#: Actions a permission may grant another account (the SQS API reference's list).
PERMISSION_ACTIONS = frozenset(
    {
        "*",
        "ChangeMessageVisibility",
        "DeleteMessage",
        "GetQueueAttributes",
        "GetQueueUrl",
        "ListDeadLetterSourceQueues",
        "PurgeQueue",
        "ReceiveMessage",
        "SendMessage",
    }
)
#: SQS actions that only the queue's owner may call.
OWNER_ONLY_ACTIONS = frozenset(
    {
        "AddPermission",
        "CancelMessageMoveTask",
        "ChangeMessageVisibilityBatch",
        "CreateQueue",
        "DeleteMessageBatch",
        "DeleteQueue",
        "ListMessageMoveTasks",
        "ListQueueTags",
        "ListQueues",
        "RemovePermission",
        "SendMessageBatch",
        "SetQueueAttributes",
        "StartMessageMoveTask",
        "TagQueue",
        "UntagQueue",
    }
)
_LABEL = re.compile(r"[A-Za-z0-9_-]{1,80}")
_ACCOUNT = re.compile(r"[0-9]{12}")


def check_policy(value: str | Mapping[str, Any] | None) -> str | None:
    """A ``Policy`` attribute as the text to keep (None or ``""``: no policy).

    A mapping is written as JSON; a text must be a JSON object of at most 8,192 bytes
    with a ``Statement`` (an object or a list of objects).

    Raises:
        InvalidAttributeValue: anything else; the queue stays as it was.
    """
    if value is None or value == "":
        return None
    if isinstance(value, Mapping):
        try:
            text = json.dumps(value)
        except (TypeError, ValueError) as error:
            raise InvalidAttributeValue(
                f"Invalid value for the parameter Policy. Reason: not JSON-able ({error})."
            ) from None
    elif isinstance(value, str):
        text = value
    else:
        raise InvalidAttributeValue(
            f"Invalid value for the parameter Policy. Reason: a str or a mapping, not "
            f"{type(value).__name__}."
        )
    try:
        document = json.loads(text)
    except ValueError:
        raise InvalidAttributeValue(
            "Invalid value for the parameter Policy. Reason: the policy is not valid JSON."
        ) from None
    statements = document.get("Statement") if isinstance(document, dict) else None
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list) or not all(isinstance(s, dict) for s in statements):
        raise InvalidAttributeValue(
            "Invalid value for the parameter Policy. Reason: a policy is a JSON object with "
            "a Statement (an object or a list of objects)."
        )
    if len(text.encode()) > MAX_POLICY_BYTES:
        raise InvalidAttributeValue(
            f"Invalid value for the parameter Policy. Reason: at most {MAX_POLICY_BYTES} bytes."
        )
    return text


def _document(policy: str | None, queue_arn: str) -> dict[str, Any]:
    if policy is None:
        return {"Version": POLICY_VERSION, "Id": f"{queue_arn}/SQSDefaultPolicy", "Statement": []}
    document: dict[str, Any] = json.loads(policy)
    statements = document.get("Statement")
    document["Statement"] = [statements] if isinstance(statements, dict) else list(statements or [])
    return document


def add_permission(
    policy: str | None,
    *,
    queue_arn: str,
    label: str,
    account_ids: Sequence[str],
    actions: Sequence[str],
) -> str:
    """The policy after AddPermission of ``label`` (see the module's docstring).

    Raises:
        MissingParameter, InvalidParameterValue, OverLimit: as AWS, before anything
            changes.
    """
    if isinstance(actions, str) or isinstance(account_ids, str):
        raise InvalidParameterValue(
            "account_ids and actions are sequences of str, not a single str."
        )
    if not isinstance(label, str) or not _LABEL.fullmatch(label):
        raise InvalidParameterValue(
            f"Value {label} for parameter Label is invalid. Reason: a label is 1-80 "
            "alphanumeric characters, hyphens and underscores."
        )
    if not actions:
        raise MissingParameter("The request must contain the parameter Actions.")
    if not account_ids:
        raise InvalidParameterValue(
            "Value [] for parameter PrincipalId is invalid. Reason: Unable to verify."
        )
    for account in account_ids:
        if not isinstance(account, str) or not _ACCOUNT.fullmatch(account):
            raise InvalidParameterValue(
                f"Value [{account}] for parameter PrincipalId is invalid. Reason: Unable to "
                "verify. (an account id is 12 digits)"
            )
    if len(actions) > MAX_ACTIONS:
        raise OverLimit(f"{len(actions)} Actions were found, maximum allowed is {MAX_ACTIONS}.")
    for action in actions:
        if action in OWNER_ONLY_ACTIONS:
            raise InvalidParameterValue(
                f"Value SQS:{action} for parameter ActionName is invalid. Reason: Only the "
                "queue owner is allowed to invoke this action."
            )
        if action not in PERMISSION_ACTIONS:
            raise InvalidParameterValue(
                f"Value SQS:{action} for parameter ActionName is invalid. Reason: Please "
                "refer to the appropriate WSDL for a list of valid actions. "
            )
    document = _document(policy, queue_arn)
    statements: list[dict[str, Any]] = document["Statement"]
    if any(statement.get("Sid") == label for statement in statements):
        raise InvalidParameterValue(
            f"Value {label} for parameter Label is invalid. Reason: Already exists."
        )
    if len(statements) >= MAX_STATEMENTS:
        raise OverLimit(
            f"The queue's policy has {len(statements)} statements, the most SQS allows."
        )
    partition = queue_arn.split(":")[1]
    principals = [f"arn:{partition}:iam::{account}:root" for account in account_ids]
    names = [f"SQS:{action}" for action in actions]
    statements.append(
        {
            "Sid": label,
            "Effect": "Allow",
            "Principal": {"AWS": principals[0] if len(principals) == 1 else principals},
            "Action": names[0] if len(names) == 1 else names,
            "Resource": queue_arn,
        }
    )
    return json.dumps(document)


def remove_permission(policy: str | None, *, label: str) -> str | None:
    """The policy after RemovePermission of ``label`` (None once no statement is left).

    Raises:
        InvalidParameterValue: no statement has this label.
    """
    statements = [] if policy is None else _document(policy, "")["Statement"]
    kept = [s for s in statements if s.get("Sid") != label]
    if len(kept) == len(statements):
        raise InvalidParameterValue(
            f"Value {label} for parameter Label is invalid. Reason: can't find label."
        )
    if not kept:
        return None
    document = json.loads(policy) if policy is not None else {}
    document["Statement"] = kept
    return json.dumps(document)


# ------------------------------------------------------------ evaluation


@functools.lru_cache(maxsize=256)
def _pattern(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    regex = re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".")
    return re.compile(regex, re.IGNORECASE if ignore_case else 0)


def _matches(values: object, text: str, *, wildcards: bool, ignore_case: bool = False) -> bool:
    items = values if isinstance(values, list) else [values]
    for item in items:
        if not isinstance(item, str):
            continue
        if wildcards:
            if _pattern(item, ignore_case).fullmatch(text):
                return True
        elif (item.lower() == text.lower()) if ignore_case else item == text:
            return True
    return False


def _principal_is_sns(principal: object) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    return _matches(principal.get("AWS"), "*", wildcards=False) or _matches(
        principal.get("Service"), "sns.amazonaws.com", wildcards=False
    )


_CONDITIONS = {
    "arnequals": False,
    "arnlike": True,
    "stringequals": False,
    "stringlike": True,
}


def _condition_holds(condition: object, topic_arn: str) -> bool:
    if condition is None:
        return True
    if not isinstance(condition, dict):
        return False
    facts = {"aws:sourcearn": topic_arn, "aws:sourceaccount": topic_arn.split(":")[4]}
    for operator, tests in condition.items():
        wildcards = _CONDITIONS.get(str(operator).lower())
        if wildcards is None or not isinstance(tests, dict):
            return False
        for key, expected in tests.items():
            fact = facts.get(str(key).lower())
            if fact is None or not _matches(expected, fact, wildcards=wildcards):
                return False
    return True


def _statement_applies(statement: dict[str, Any], queue_arn: str, topic_arn: str) -> bool:
    if any(key in statement for key in ("NotAction", "NotPrincipal", "NotResource")):
        return False
    return (
        _principal_is_sns(statement.get("Principal"))
        and _matches(statement.get("Action"), "sqs:SendMessage", wildcards=True, ignore_case=True)
        and _matches(statement.get("Resource"), queue_arn, wildcards=True)
        and _condition_holds(statement.get("Condition"), topic_arn)
    )


@functools.lru_cache(maxsize=1024)
def allows_sns_delivery(policy: str | None, queue_arn: str, topic_arn: str) -> bool:
    """Whether a queue's policy lets the topic ``topic_arn`` send to it (see above)."""
    if policy is None:
        return False
    statements = _document(policy, queue_arn)["Statement"]
    allowed = False
    for statement in statements:
        if not _statement_applies(statement, queue_arn, topic_arn):
            continue
        effect = statement.get("Effect")
        if effect == "Deny":
            return False
        if effect == "Allow":
            allowed = True
    return allowed


def sns_delivery_statement(queue_arn: str, topic_arn: str, sid: str) -> dict[str, Any]:
    """The statement that lets the topic send to the queue, as AWS's docs write it."""
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"Service": "sns.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": queue_arn,
        "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
    }
