"""PublishBatch, MessageStructure=json, tags, permissions and paged listing behave the
same on the local backend and on SNS/SQS (moto); where moto departs, the case says so."""

from __future__ import annotations

import json

import pytest

from eventbus import EventBusError, PublishBatchEntry

from .conftest import Harness


async def _refused(call: object) -> EventBusError:
    with pytest.raises(EventBusError) as caught:
        await call  # type: ignore[misc]
    return caught.value


# ------------------------------------------------------------------ PublishBatch


async def test_publish_batch_delivers_every_entry(harness: Harness) -> None:
    bus = harness.bus
    queue = await bus.create_queue("orders")
    topic = await bus.create_topic("events")
    await topic.subscribe(queue, raw_message_delivery=True)
    result = await topic.publish_batch(
        [
            PublishBatchEntry("a", "first", message_attributes={"kind": "created"}),
            PublishBatchEntry("b", "second"),
            "third",
        ]
    )
    assert [ok.id for ok in result.successful] == ["a", "b", "2"]
    assert all(ok.message_id for ok in result.successful)
    assert result.failed == []
    received = await queue.receive(max_messages=10)
    assert sorted(m.body for m in received) == ["first", "second", "third"]
    [first] = [m for m in received if m.body == "first"]
    assert first.message_attributes["kind"].string_value == "created"


async def test_publish_batch_on_a_fifo_topic_keeps_order_and_numbers(harness: Harness) -> None:
    bus = harness.bus
    queue = await bus.create_queue("orders.fifo", fifo_queue=True)
    topic = await bus.create_topic("events.fifo", fifo_topic=True)
    await topic.subscribe(queue, raw_message_delivery=True)
    result = await topic.publish_batch(
        [
            PublishBatchEntry(
                str(i), f"m{i}", message_group_id="g", message_deduplication_id=f"d{i}"
            )
            for i in range(3)
        ]
    )
    assert [ok.id for ok in result.successful] == ["0", "1", "2"]
    received = await queue.receive(max_messages=10)
    assert [m.body for m in received] == ["m0", "m1", "m2"]
    if harness.kind == "local":  # moto answers PublishBatch without SequenceNumber
        numbers = [int(ok.sequence_number or 0) for ok in result.successful]
        assert all(numbers)
        assert numbers == sorted(numbers)


async def test_publish_batch_refuses_more_than_ten_entries(harness: Harness) -> None:
    topic = await harness.bus.create_topic("events")
    error = await _refused(topic.publish_batch([f"m{i}" for i in range(11)]))
    assert error.code == "TooManyEntriesInBatchRequest"
    assert error.message == "The batch request contains more entries than permissible."


async def test_publish_batch_refuses_repeated_ids(harness: Harness) -> None:
    topic = await harness.bus.create_topic("events")
    error = await _refused(
        topic.publish_batch([PublishBatchEntry("x", "one"), PublishBatchEntry("x", "two")])
    )
    assert error.code == "BatchEntryIdsNotDistinct"
    assert error.message == "Two or more batch entries in the request have the same Id."


@pytest.mark.parametrize(
    ("entry_id", "text"),
    [
        ("message.id", "contains an impermissible character: message.id"),
        ("a" * 81, "is too long: " + "a" * 81),
    ],
)
async def test_publish_batch_refuses_bad_ids(harness: Harness, entry_id: str, text: str) -> None:
    topic = await harness.bus.create_topic("events")
    error = await _refused(topic.publish_batch([PublishBatchEntry(entry_id, "m")]))
    assert error.code == "InvalidBatchEntryId"
    assert error.message == f"The Id of a batch entry in the batch request {text}"


async def test_publish_batch_refuses_an_empty_batch(harness: Harness) -> None:
    topic = await harness.bus.create_topic("events")
    error = await _refused(topic.publish_batch([]))
    assert error.code == "EmptyBatchRequest"


async def test_publish_batch_refuses_more_than_256_kib_together(harness: Harness) -> None:
    bus = harness.bus
    queue = await bus.create_queue("orders")
    topic = await bus.create_topic("events")
    await topic.subscribe(queue, raw_message_delivery=True)
    half = "x" * (131_072 + 1)  # each fits; together they are one byte over
    error = await _refused(topic.publish_batch([half, half]))
    assert error.code == "BatchRequestTooLong"
    assert error.message == "The length of all the messages put together is more than the limit."
    assert await queue.receive(max_messages=10) == []


async def test_publish_batch_with_an_invalid_entry_publishes_nothing(harness: Harness) -> None:
    harness.moto_departs("moto publishes the valid entries and reports the others as failed")
    bus = harness.bus
    queue = await bus.create_queue("orders.fifo", fifo_queue=True)
    topic = await bus.create_topic("events.fifo", fifo_topic=True)
    await topic.subscribe(queue, raw_message_delivery=True)
    error = await _refused(
        topic.publish_batch(
            [
                PublishBatchEntry("ok", "m", message_group_id="g", message_deduplication_id="d"),
                PublishBatchEntry("no-dedup-id", "m", message_group_id="g"),
            ]
        )
    )
    assert error.code == "InvalidParameter"
    assert error.message.startswith(
        "Invalid parameter: The topic should either have ContentBasedDeduplication enabled "
        "or MessageDeduplicationId provided explicitly"
    )
    assert await queue.receive(max_messages=10) == []


# --------------------------------------------------------- MessageStructure=json


@pytest.mark.parametrize("raw", [True, False])
async def test_message_structure_json_delivers_the_sqs_entry(harness: Harness, raw: bool) -> None:
    bus = harness.bus
    queue = await bus.create_queue("orders")
    topic = await bus.create_topic("events")
    await topic.subscribe(queue, raw_message_delivery=raw)
    message = json.dumps({"default": "for everyone", "sqs": "for queues", "email": "hi"})
    await topic.publish(message, message_structure="json")
    [received] = await queue.receive()
    body = received.body if raw else json.loads(received.body)["Message"]
    assert body == "for queues"


async def test_message_structure_json_falls_back_to_default(harness: Harness) -> None:
    bus = harness.bus
    queue = await bus.create_queue("orders")
    topic = await bus.create_topic("events")
    await topic.subscribe(queue, raw_message_delivery=True)
    await topic.publish(json.dumps({"default": "for everyone"}), message_structure="json")
    [received] = await queue.receive()
    assert received.body == "for everyone"


@pytest.mark.parametrize(
    ("message", "text"),
    [
        (json.dumps({"sqs": "no default"}), "No default entry in JSON message body"),
        ("not json", "JSON message body failed to parse"),
    ],
)
async def test_message_structure_json_refuses_a_bad_message(
    harness: Harness, message: str, text: str
) -> None:
    topic = await harness.bus.create_topic("events")
    error = await _refused(topic.publish(message, message_structure="json"))
    assert error.code == "InvalidParameter"
    assert error.message == f"Invalid parameter: Message Structure - {text}"


async def test_publish_batch_entries_take_a_message_structure(harness: Harness) -> None:
    bus = harness.bus
    queue = await bus.create_queue("orders")
    topic = await bus.create_topic("events")
    await topic.subscribe(queue, raw_message_delivery=True)
    await topic.publish_batch(
        [PublishBatchEntry("a", json.dumps({"default": "d", "sqs": "s"}), message_structure="json")]
    )
    [received] = await queue.receive()
    assert received.body == "s"


# ------------------------------------------------------------------------- tags


async def test_queue_tags_are_added_replaced_listed_and_removed(harness: Harness) -> None:
    queue = await harness.bus.create_queue("orders", tags={"team": "a", "env": "dev"})
    assert await queue.list_tags() == {"team": "a", "env": "dev"}
    await queue.tag({"env": "prod", "cost": "12"})
    assert await queue.list_tags() == {"team": "a", "env": "prod", "cost": "12"}
    await queue.untag(["team", "absent"])
    assert await queue.list_tags() == {"env": "prod", "cost": "12"}


async def test_queue_tags_beyond_fifty_are_refused(harness: Harness) -> None:
    queue = await harness.bus.create_queue("orders", tags={f"k{i}": "v" for i in range(50)})
    error = await _refused(queue.tag({f"x{i}": "v" for i in range(51)}))
    assert error.code == "InvalidParameterValue"
    assert error.message.startswith("Too many tags added for queue orders.")
    assert len(await queue.list_tags()) == 50


async def test_topic_tags_are_added_replaced_listed_and_removed(harness: Harness) -> None:
    topic = await harness.bus.create_topic("events", tags={"team": "a"})
    assert await topic.list_tags() == {"team": "a"}
    await topic.tag({"team": "b", "env": "dev"})
    assert await topic.list_tags() == {"team": "b", "env": "dev"}
    await topic.untag(["team"])
    assert await topic.list_tags() == {"env": "dev"}


async def test_topic_tags_beyond_fifty_are_refused(harness: Harness) -> None:
    topic = await harness.bus.create_topic("events")
    await topic.tag({f"k{i}": "v" for i in range(50)})
    error = await _refused(topic.tag({"one-more": "v"}))
    assert error.code == "TagLimitExceeded"
    assert len(await topic.list_tags()) == 50


async def test_creating_an_existing_topic_with_other_tags_is_refused(harness: Harness) -> None:
    harness.moto_departs("moto returns the existing topic whatever the tags")
    bus = harness.bus
    await bus.create_topic("events", tags={"a": "1", "b": "2"})
    assert (await bus.create_topic("events", tags={"a": "1"})).name == "events"
    error = await _refused(bus.create_topic("events", tags={"a": "other"}))
    assert error.code == "InvalidParameter"
    assert (
        error.message == "Invalid parameter: Tags Reason: Topic already exists with different tags"
    )


@pytest.mark.parametrize(
    "tags",
    [{"": "v"}, {"k" * 129: "v"}, {"k": "v" * 257}, {"aws:team": "v"}, {"k": "a#b"}],
)
async def test_bad_tags_are_refused_before_any_call(harness: Harness, tags: dict[str, str]) -> None:
    bus = harness.bus
    queue = await bus.create_queue("orders")
    topic = await bus.create_topic("events")
    assert (await _refused(queue.tag(tags))).code == "InvalidParameterValue"
    assert (await _refused(topic.tag(tags))).code == "InvalidParameter"
    assert await queue.list_tags() == {}
    assert await topic.list_tags() == {}


# ---------------------------------------------------------------- permissions


async def test_add_permission_builds_the_policy_aws_builds(harness: Harness) -> None:
    queue = await harness.bus.create_queue("orders")
    await queue.add_permission("cross", ["111111111111"], ["SendMessage"])
    policy = json.loads((await queue.get_attributes())["Policy"])
    assert policy["Id"] == f"{queue.arn}/SQSDefaultPolicy"
    assert policy["Statement"] == [
        {
            "Sid": "cross",
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::111111111111:root"},
            "Action": "SQS:SendMessage",
            "Resource": queue.arn,
        }
    ]
    await queue.add_permission("more", ["111111111111", "222222222222"], ["ReceiveMessage", "*"])
    statements = json.loads((await queue.get_attributes())["Policy"])["Statement"]
    assert [s["Sid"] for s in statements] == ["cross", "more"]
    assert statements[1]["Action"] == ["SQS:ReceiveMessage", "SQS:*"]
    await queue.remove_permission("cross")
    await queue.remove_permission("more")
    assert "Policy" not in await queue.get_attributes()


async def test_add_permission_refuses_a_label_used_already(harness: Harness) -> None:
    queue = await harness.bus.create_queue("orders")
    await queue.add_permission("cross", ["111111111111"], ["SendMessage"])
    error = await _refused(queue.add_permission("cross", ["111111111111"], ["ReceiveMessage"]))
    assert error.code == "InvalidParameterValue"
    assert error.message == "Value cross for parameter Label is invalid. Reason: Already exists."


async def test_remove_permission_refuses_an_unknown_label(harness: Harness) -> None:
    queue = await harness.bus.create_queue("orders")
    await queue.add_permission("cross", ["111111111111"], ["SendMessage"])
    error = await _refused(queue.remove_permission("other"))
    assert error.code == "InvalidParameterValue"
    # AWS: "... Reason: can't find label."; moto adds " on existing policy".
    assert error.message.startswith("Value other for parameter Label is invalid. Reason: can't")


@pytest.mark.parametrize(
    ("accounts", "actions", "code"),
    [
        (["111111111111"], [], "MissingParameter"),
        ([], ["SendMessage"], "InvalidParameterValue"),
        (["111111111111"], ["SendMessage"] * 8, "OverLimit"),
        (["111111111111"], ["CreateQueue"], "InvalidParameterValue"),
    ],
)
async def test_add_permission_refuses_bad_arguments(
    harness: Harness, accounts: list[str], actions: list[str], code: str
) -> None:
    queue = await harness.bus.create_queue("orders")
    error = await _refused(queue.add_permission("cross", accounts, actions))
    assert error.code == code
    assert "Policy" not in await queue.get_attributes()


async def test_the_policy_attribute_is_stored_and_returned(harness: Harness) -> None:
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sqs:*", "Resource": "*"}],
    }
    queue = await harness.bus.create_queue("orders", policy=policy)
    assert json.loads((await queue.get_attributes())["Policy"]) == policy
    await queue.set_attributes(policy="")
    assert "Policy" not in await queue.get_attributes()


# -------------------------------------------------------------------- paging


async def test_list_queues_pages_with_max_results(harness: Harness) -> None:
    bus = harness.bus
    for name in ("q-a", "q-b", "q-c", "other"):
        await bus.create_queue(name)
    seen: list[str] = []
    token: str | None = None
    while True:
        page = await bus.list_queues_page("q-", max_results=2, next_token=token)
        assert len(page.items) <= 2
        seen.extend(q.name for q in page.items)
        token = page.next_token
        if token is None:
            break
    assert sorted(seen) == ["q-a", "q-b", "q-c"]
    whole = await bus.list_queues_page("q-")
    assert sorted(q.name for q in whole.items) == ["q-a", "q-b", "q-c"]
    assert whole.next_token is None
    assert [q.name for q in await bus.list_queues("q-")] == ["q-a", "q-b", "q-c"]


@pytest.mark.parametrize("max_results", [0, 1001])
async def test_list_queues_refuses_max_results_out_of_range(
    harness: Harness, max_results: int
) -> None:
    error = await _refused(harness.bus.list_queues_page(max_results=max_results))
    assert error.code == "InvalidParameterValue"


async def test_list_dead_letter_source_queues(harness: Harness) -> None:
    from eventbus import RedrivePolicy

    bus = harness.bus
    dlq = await bus.create_queue("dlq")
    for name in ("b-source", "a-source"):
        await bus.create_queue(
            name, redrive_policy=RedrivePolicy(dead_letter_queue="dlq", max_receive_count=3)
        )
    await bus.create_queue("unrelated")
    assert [q.name for q in await dlq.list_dead_letter_source_queues()] == [
        "a-source",
        "b-source",
    ]
    first = await dlq.list_dead_letter_source_queues_page(max_results=1)
    if harness.kind == "local":  # moto ignores MaxResults of ListDeadLetterSourceQueues
        assert len(first.items) == 1
        assert first.next_token is not None
        second = await dlq.list_dead_letter_source_queues_page(
            max_results=1, next_token=first.next_token
        )
        assert [q.name for q in first.items + second.items] == ["a-source", "b-source"]
        assert second.next_token is None


async def test_sns_lists_page_by_100(harness: Harness) -> None:
    bus = harness.bus
    queue = await bus.create_queue("orders")
    topics = [await bus.create_topic(f"t{i:03}") for i in range(101)]
    for topic in topics[:2]:
        await topic.subscribe(queue, raw_message_delivery=True)
    first = await bus.list_topics_page()
    assert len(first.items) == 100
    assert first.next_token is not None
    second = await bus.list_topics_page(next_token=first.next_token)
    assert len(second.items) == 1
    assert second.next_token is None
    assert {t.name for t in first.items + second.items} == {t.name for t in topics}
    subscriptions = await bus.list_subscriptions()
    assert sorted(s.topic_arn for s in subscriptions) == sorted(t.arn for t in topics[:2])
    page = await topics[0].subscriptions_page()
    assert [s.endpoint for s in page.items] == [queue.arn]
    assert page.next_token is None
    assert page.items[0].raw_message_delivery
