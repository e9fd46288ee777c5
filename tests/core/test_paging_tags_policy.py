"""The sans-I/O rules of list pages, tags, access policies and MessageStructure=json."""

from __future__ import annotations

import json

import hypothesis.strategies as st
import pytest
from hypothesis import given

from eventbus._core._errors import EventBusError
from eventbus._core._paging import SNS_PAGE_SIZE, sns_page, sqs_page
from eventbus._core._policy import add_permission, allows_sns_delivery, remove_permission
from eventbus._core._tags import tagged, untagged
from eventbus._core._topic import sqs_message

QUEUE = "arn:aws:sqs:us-east-1:000000000000:orders"
TOPIC = "arn:aws:sns:us-east-1:000000000000:events"


@given(
    names=st.sets(st.text("abc", min_size=1, max_size=4), max_size=30),
    size=st.integers(1, 7),
)
def test_sqs_pages_list_every_key_once_in_order(names: set[str], size: int) -> None:
    keys = sorted(names)
    seen: list[str] = []
    token = None
    while True:
        page, token = sqs_page(keys, kind="k", max_results=size, next_token=token)
        assert len(page) <= size
        seen.extend(page)
        if token is None:
            break
    assert seen == keys


@given(count=st.integers(0, 250))
def test_sns_pages_hold_100(count: int) -> None:
    keys = sorted(f"t{i:04}" for i in range(count))
    seen: list[str] = []
    token = None
    while True:
        page, token = sns_page(keys, kind="t", next_token=token)
        assert len(page) <= SNS_PAGE_SIZE
        seen.extend(page)
        if token is None:
            break
    assert seen == keys


def test_no_next_token_without_max_results() -> None:
    keys = [f"q{i:04}" for i in range(1_500)]
    page, token = sqs_page(keys, kind="k", max_results=None, next_token=None)
    assert len(page) == 1_000
    assert token is None


@pytest.mark.parametrize("token", ["garbage!", "dG9waWNzAHgx"])
def test_a_foreign_token_is_refused(token: str) -> None:
    with pytest.raises(EventBusError) as caught:
        sqs_page(["a"], kind="queues:", max_results=1, next_token=token)
    assert caught.value.code == "InvalidParameterValue"
    with pytest.raises(EventBusError) as caught:
        sns_page(["a"], kind="subscriptions", next_token=token)
    assert caught.value.code == "InvalidParameter"


@given(
    existing=st.dictionaries(st.text("ab", min_size=1, max_size=3), st.just("v"), max_size=5),
    given_tags=st.dictionaries(st.text("ab#", min_size=0, max_size=3), st.just("v"), max_size=5),
)
def test_tags_either_merge_or_change_nothing(
    existing: dict[str, str], given_tags: dict[str, str]
) -> None:
    before = dict(existing)
    try:
        after = tagged(existing, given_tags, resource="q", sns=False)
    except EventBusError:
        assert existing == before
        assert not given_tags or any(not k or "#" in k for k in given_tags)
        return
    assert after == {**before, **given_tags}
    assert untagged(after, list(given_tags), sns=False) == {
        k: v for k, v in before.items() if k not in given_tags
    }


def test_permissions_round_trip_to_no_policy() -> None:
    policy = add_permission(
        None, queue_arn=QUEUE, label="p", account_ids=["111111111111"], actions=["*"]
    )
    assert json.loads(policy)["Version"] == "2008-10-17"
    assert not allows_sns_delivery(policy, QUEUE, TOPIC)  # an account is not SNS
    assert remove_permission(policy, label="p") is None
    with pytest.raises(EventBusError, match="can't find label"):
        remove_permission(None, label="p")


@pytest.mark.parametrize(
    ("message", "delivered"),
    [
        ('{"default": "d", "sqs": "s"}', "s"),
        ('{"default": "d", "sqs": 5}', "d"),
        ('{"default": "d"}', "d"),
    ],
)
def test_sqs_subscriptions_get_the_sqs_entry(message: str, delivered: str) -> None:
    assert sqs_message(message) == delivered


@pytest.mark.parametrize("message", ['{"default": 1}', "[]", '{"sqs": "s"}'])
def test_a_json_message_without_a_string_default_is_refused(message: str) -> None:
    with pytest.raises(EventBusError, match="No default entry in JSON message body"):
        sqs_message(message)
