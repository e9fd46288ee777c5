"""Create-or-get in the core: only the attributes a call gives are compared (SQS's
CreateQueue, SNS's CreateTopic and Subscribe); FifoThroughputScope's deduplication."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eventbus._core._broker import Broker
from eventbus._core._errors import EventBusError
from eventbus._core._ids import CountingIds
from eventbus._core._settings import QUEUE_AWS_NAMES, QueueSettings, TopicSettings

# A few values per attribute, the default among them.
VALUES: dict[str, list[object]] = {
    "visibility_timeout": [30, 0, 60],
    "delay_seconds": [0, 5],
    "message_retention_period": [345_600, 60],
    "maximum_message_size": [1_048_576, 1_024],
    "receive_message_wait_time_seconds": [0, 20],
    "kms_master_key_id": [None, "key"],
    "kms_data_key_reuse_period_seconds": [300, 60],
    "sqs_managed_sse_enabled": [True, False],
}

settings_st = st.fixed_dictionaries(
    {key: st.sampled_from(values) for key, values in VALUES.items()}
)


@given(existing=settings_st, asked=settings_st, keys=st.sets(st.sampled_from(sorted(VALUES))))
def test_create_queue_compares_only_the_attributes_given(
    existing: dict[str, object], asked: dict[str, object], keys: set[str]
) -> None:
    """A create returns the queue iff every attribute given equals the queue's; a
    refusal names the first that differs and changes nothing."""
    broker = Broker(region="us-east-1", ids=CountingIds())
    queue = broker.create_queue("q", QueueSettings(**existing), now=0.0)  # type: ignore[arg-type]
    before = queue.settings
    differing = [key for key in QUEUE_AWS_NAMES if key in keys and existing[key] != asked[key]]

    def create_again() -> object:
        return broker.create_queue(
            "q",
            QueueSettings(**asked),  # type: ignore[arg-type]
            now=1.0,
            given=frozenset(keys),
        )

    if differing:
        with pytest.raises(EventBusError) as caught:
            create_again()
        assert caught.value.code == "QueueAlreadyExists"
        assert caught.value.message.endswith(f"attribute {QUEUE_AWS_NAMES[differing[0]]}")
    else:
        assert create_again() is queue
    assert queue.settings == before
    assert broker.list_queues() == [queue]


def test_create_topic_with_no_attributes_given_returns_the_topic() -> None:
    broker = Broker(region="us-east-1", ids=CountingIds())
    topic = broker.create_topic("t", TopicSettings(display_name="x"))

    assert broker.create_topic("t", TopicSettings(), given=frozenset()) is topic
    with pytest.raises(EventBusError) as caught:
        broker.create_topic("t", TopicSettings(), given=frozenset({"display_name"}))
    assert caught.value.code == "InvalidParameter"


@pytest.mark.parametrize(("scope", "delivered"), [("Topic", ["a"]), ("MessageGroup", ["a", "b"])])
def test_fifo_throughput_scope_message_group_deduplicates_within_each_group(
    scope: str, delivered: list[str]
) -> None:
    """With FifoThroughputScope MessageGroup the same deduplication id in another
    group is a new message; with Topic (the default) it is a duplicate."""
    broker = Broker(region="us-east-1", ids=CountingIds())
    settings = dataclasses.replace(
        TopicSettings(fifo_topic=True),
        fifo_throughput_scope=scope,  # type: ignore[arg-type]
    )
    topic = broker.create_topic("t.fifo", settings)
    queue = broker.create_queue("q", QueueSettings(), now=0.0)  # no SQS deduplication
    broker.subscribe(topic, queue, raw_message_delivery=True)

    for group, body in (("g1", "a"), ("g2", "b"), ("g1", "c")):
        broker.publish(
            topic, body, now=0.0, message_group_id=group, message_deduplication_id="same"
        )

    received = broker.receive(queue, now=0.0, max_messages=10)
    assert sorted(m.body for m in received) == delivered
