"""Tags, permissions, paged listing and policy enforcement on delivery, driven by hypothesis
against a plain model: dicts of tags, a dict of permission labels, a set of queue names.

Every rejected call must leave the broker exactly as the model (which did not change).
"""

from __future__ import annotations

import json

import hypothesis.strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from eventbus._core._broker import Broker
from eventbus._core._errors import EventBusError
from eventbus._core._ids import CountingIds
from eventbus._core._policy import sns_delivery_statement
from eventbus._core._settings import QueueSettings, TopicSettings
from eventbus._core._tags import MAX_TAGS

T0 = 1_767_225_600
NAMES = st.sampled_from(["a", "ab", "b", "ba", "c", "q1", "q2"])
KEYS = st.sampled_from(["k1", "k2", "k3", "env", "aws:x", "", "bad#key", "k" * 129])
VALUES = st.sampled_from(["", "v", "dev", "v" * 257, "x/y=z"])
LABELS = st.sampled_from(["p1", "p2", "p3", "bad label"])
ACTIONS = st.lists(st.sampled_from(["SendMessage", "ReceiveMessage", "*", "CreateQueue"]))


def _tag_ok(key: str, value: str) -> bool:
    allowed = set("_.:/=+-@")
    return (
        1 <= len(key) <= 128
        and len(value) <= 256
        and not key.startswith("aws:")
        and not value.startswith("aws:")
        and all(c.isalnum() or c.isspace() or c in allowed for c in key + value)
    )


class ApiRules(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.broker = Broker(region="us-east-1", ids=CountingIds(), enforce_queue_policies=True)
        self.now = T0
        self.queues: set[str] = set()
        self.tags: dict[str, dict[str, str]] = {}
        self.labels: dict[str, set[str]] = {}
        self.allowed: set[str] = set()
        self.grants: dict[str, int] = {}
        self.topic = self.broker.create_topic("events", TopicSettings())

    @rule(name=NAMES)
    def create_queue(self, name: str) -> None:
        if name in self.queues:
            return
        queue = self.broker.create_queue(name, QueueSettings(), now=self.now)
        self.broker.subscribe(self.topic, queue, raw_message_delivery=True)
        self.queues.add(name)
        self.tags[name] = {}
        self.labels[name] = set()
        self.grants[name] = 0

    @rule(name=NAMES, pairs=st.dictionaries(KEYS, VALUES, max_size=4))
    def tag(self, name: str, pairs: dict[str, str]) -> None:
        queue = self.broker.queue_by_name(name)
        if queue is None:
            return
        merged = {**self.tags[name], **pairs}
        valid = bool(pairs) and all(_tag_ok(k, v) for k, v in pairs.items())
        try:
            self.broker.tag(queue.arn, pairs, resource=name, sns=False)
        except EventBusError:
            assert not valid or len(merged) > MAX_TAGS
            return
        assert valid
        self.tags[name] = merged

    @rule(name=NAMES, keys=st.lists(KEYS, max_size=3))
    def untag(self, name: str, keys: list[str]) -> None:
        queue = self.broker.queue_by_name(name)
        if queue is None:
            return
        try:
            self.broker.untag(queue.arn, keys, sns=False)
        except EventBusError:
            assert not keys or any(not 1 <= len(k) <= 128 for k in keys)
            return
        self.tags[name] = {k: v for k, v in self.tags[name].items() if k not in keys}

    @rule(name=NAMES, label=LABELS, actions=ACTIONS)
    def add_permission(self, name: str, label: str, actions: list[str]) -> None:
        queue = self.broker.queue_by_name(name)
        if queue is None:
            return
        valid = (
            " " not in label
            and label not in self.labels[name]
            and 1 <= len(actions) <= 7
            and "CreateQueue" not in actions
            and len(self.labels[name]) + self.grants[name] < 20
        )
        try:
            self.broker.add_permission(
                queue, label=label, account_ids=["111111111111"], actions=actions, now=self.now
            )
        except EventBusError:
            assert not valid
            return
        assert valid
        self.labels[name].add(label)

    @rule(name=NAMES, label=LABELS)
    def remove_permission(self, name: str, label: str) -> None:
        queue = self.broker.queue_by_name(name)
        if queue is None:
            return
        try:
            self.broker.remove_permission(queue, label=label, now=self.now)
        except EventBusError:
            assert label not in self.labels[name]
            return
        self.labels[name].discard(label)

    @rule(name=NAMES)
    def allow_the_topic(self, name: str) -> None:
        queue = self.broker.queue_by_name(name)
        if queue is None:
            return
        document = json.loads(queue.settings.policy or '{"Statement": []}')
        document["Statement"].append(
            sns_delivery_statement(queue.arn, self.topic.arn, f"sns-{len(document['Statement'])}")
        )
        self.broker.set_queue_settings(
            queue, QueueSettings(policy=json.dumps(document)), now=self.now
        )
        self.allowed.add(name)
        self.grants[name] += 1

    @rule(name=NAMES)
    def delete_queue(self, name: str) -> None:
        if name not in self.queues:
            return
        self.broker.delete_queue(name, now=self.now)
        self.queues.discard(name)
        del self.tags[name], self.labels[name], self.grants[name]
        self.allowed.discard(name)
        self.now += 61  # it may be made again

    @rule()
    def publish(self) -> None:
        outcome = self.broker.publish(self.topic, "m", now=self.now)
        self.broker.events.clear()
        delivered = {queue.name for queue in outcome.delivered_to}
        assert delivered == self.allowed & self.queues
        for queue in outcome.delivered_to:
            queue.purge(now=self.now)
        self.now += 61

    @rule(prefix=st.sampled_from(["", "a", "b", "q"]), size=st.integers(1, 3))
    def list_in_pages(self, prefix: str, size: int) -> None:
        names: list[str] = []
        token = None
        while True:
            page, token = self.broker.list_queues_page(prefix, max_results=size, next_token=token)
            assert len(page) <= size
            names.extend(q.name for q in page)
            if token is None:
                break
        assert names == sorted(n for n in self.queues if n.startswith(prefix))

    @invariant()
    def tags_match(self) -> None:
        for name in self.queues:
            queue = self.broker.queue_by_name(name)
            assert queue is not None
            assert self.broker.tags_of(queue.arn) == self.tags[name]

    @invariant()
    def labels_match(self) -> None:
        for name in self.queues:
            queue = self.broker.queue_by_name(name)
            assert queue is not None
            policy = queue.settings.policy
            sids = {s.get("Sid") for s in json.loads(policy)["Statement"]} if policy else set()
            assert self.labels[name] <= sids


TestApi = ApiRules.TestCase
