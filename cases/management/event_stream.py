"""Reading platform events from NATS JetStream: a durable pull consumer with explicit acks.

Delivery is at least once; `ingest_events` is idempotent per (source, event id), so together each event is
acted on once:

- a batch is fetched, validated, ingested in one transaction, and only then acked: a consumer killed at any
  point before its acks leaves the messages unacked, and JetStream redelivers them after `ack_wait` to
  whichever consumer of the same durable asks next (the stored ones come back as duplicates and are acked);
- a message that can never be handled (not JSON, not a valid event, an id reused with another body) is
  published to the dead-letter subject with the reason, then acked, so it never blocks the stream;
- a batch that fails for a passing reason (the database restarting) is nak'ed with a delay and retried, up to
  `max_deliver` deliveries; the last delivery dead-letters it with the error.

The NATS client runs on an asyncio loop in its own thread; the Django work stays on the calling thread
(the ORM is synchronous), which calls into the loop for fetches, acks and publishes.
"""

import asyncio
import json
import logging
import threading
import time
from dataclasses import dataclass, field

import nats
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import AckPolicy, ConsumerConfig, StreamConfig
from nats.js.errors import NotFoundError

from cases.event_validation import parse_event
from cases.services.event_rules import prepare_detection
from cases.services.events import ingest_events
from moderation.models import Vendor

logger = logging.getLogger(__name__)
RETRY_DELAY_SECONDS = 1.0


@dataclass
class Tally:
    created: int = 0
    duplicate: int = 0
    dead: int = 0
    retried: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)

    @property
    def handled(self) -> int:
        return self.created + self.duplicate + self.dead


class _Invalid(ValueError):
    pass


def _reject_constant(name: str):
    raise _Invalid(f"{name} is not valid JSON")


def decode(data: bytes):
    """The message body as JSON: UTF-8 only, and no NaN/Infinity (JSON has none; Python would accept them)."""
    try:
        return json.loads(data.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError as exc:
        raise _Invalid(f"not UTF-8: {exc}") from exc
    except RecursionError as exc:
        raise _Invalid("nested too deeply") from exc
    except json.JSONDecodeError as exc:
        raise _Invalid(f"not JSON: {exc}") from exc


class EventStream:
    """One consumer process's connection: `open()`, then `run_batch()` until done, then `close()`."""

    def __init__(
        self,
        *,
        url: str,
        stream: str,
        subject: str,
        durable: str,
        dead_letter: str,
        ack_wait: float,
        max_deliver: int,
        source: Vendor,
        pause_before_ack: float = 0.0,
    ) -> None:
        self.url, self.stream, self.subject, self.durable = url, stream, subject, durable
        self.dead_letter, self.ack_wait, self.max_deliver = dead_letter, ack_wait, max_deliver
        self.source = source
        # Fault injection for the crash tests: the batch is committed, its acks not yet sent.
        self.pause_before_ack = pause_before_ack
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="nats", daemon=True)
        self.tally = Tally()

    def _call(self, coroutine, timeout: float | None = 30.0):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def open(self) -> None:
        prepare_detection()
        self.thread.start()
        self._call(self._connect())

    async def _connect(self) -> None:
        self.nc = await nats.connect(self.url, connect_timeout=5, max_reconnect_attempts=-1)
        self.js = self.nc.jetstream()
        try:
            await self.js.stream_info(self.stream)
        except NotFoundError:
            # A stream nobody set up yet: create it with both subjects, so dead letters are kept too.
            await self.js.add_stream(
                StreamConfig(name=self.stream, subjects=[self.subject, self.dead_letter])
            )
        self.sub = await self.js.pull_subscribe(
            self.subject,
            durable=self.durable,
            stream=self.stream,
            config=ConsumerConfig(
                ack_policy=AckPolicy.EXPLICIT,
                ack_wait=self.ack_wait,
                max_deliver=self.max_deliver,
                filter_subject=self.subject,
            ),
        )

    def close(self) -> None:
        # Acks were flushed batch by batch; close (not drain: a pull subscription's drain waits for a fetch
        # that is not coming) flushes whatever is still buffered.
        try:
            self._call(self._close(), timeout=10)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)

    async def _close(self) -> None:
        await self.nc.flush(timeout=5)
        await self.nc.close()

    async def _fetch(self, batch: int, timeout: float):
        try:
            return await self.sub.fetch(batch, timeout=timeout)
        except (NatsTimeout, TimeoutError):  # nothing waiting (nats-py raises either, by code path)
            return []

    def fetch(self, batch: int, timeout: float = 1.0) -> list:
        return self._call(self._fetch(batch, timeout), timeout + 30)

    async def _dead(self, msg, reason: str, fields: dict | None) -> None:
        body = {
            "reason": reason,
            "fields": fields,
            "subject": msg.subject,
            "stream_sequence": msg.metadata.sequence.stream,
            "deliveries": msg.metadata.num_delivered,
            "original": msg.data.decode("utf-8", errors="replace"),
        }
        # Published to JetStream (awaiting its ack) before the original is acked: a crash in between gives a
        # second dead letter, never none.
        await self.js.publish(
            self.dead_letter,
            json.dumps(body, ensure_ascii=False).encode(),
            headers={"Dead-Letter-Reason": reason[:200].replace("\r", " ").replace("\n", " ")},
        )
        await msg.ack()

    async def _settle(self, acks: list, naks: list, dead: list) -> None:
        for msg, reason, fields in dead:
            await self._dead(msg, reason, fields)
        for msg in acks:
            await msg.ack()
        for msg in naks:
            await msg.nak(delay=RETRY_DELAY_SECONDS)
        await self.nc.flush()

    def run_batch(self, batch: int, timeout: float = 1.0) -> int:
        """Fetch up to `batch` messages, handle and settle them; how many were fetched (0: none waiting)."""
        msgs = self.fetch(batch, timeout)
        if not msgs:
            return 0
        dead, parsed = [], []
        for msg in msgs:
            try:
                item, errors = parse_event(decode(msg.data))
            except _Invalid as exc:
                dead.append((msg, str(exc), None))
                continue
            if errors:
                dead.append((msg, "validation_error: " + "; ".join(sorted(errors)), errors))
            else:
                parsed.append((msg, item))
        acks, naks = [], []
        if parsed:
            try:
                outcomes = ingest_events(source=self.source, events=[item for _, item in parsed])
            except Exception as exc:
                logger.exception("event batch failed; retried up to %s deliveries", self.max_deliver)
                for msg, _ in parsed:
                    if msg.metadata.num_delivered >= self.max_deliver:
                        dead.append((msg, f"failed {msg.metadata.num_delivered} times: {exc!r}"[:1000], None))
                    else:
                        naks.append(msg)
                        self.tally.retried += 1
                outcomes = []
            for (msg, _), outcome in zip(parsed, outcomes, strict=False):
                if outcome.status == "conflict":
                    dead.append((msg, "conflict: " + outcome.detail, {"id": [outcome.detail]}))
                    continue
                acks.append(msg)
                setattr(self.tally, outcome.status, getattr(self.tally, outcome.status) + 1)
                if outcome.status == "created":
                    key = str(outcome.outcome)
                    self.tally.outcomes[key] = self.tally.outcomes.get(key, 0) + 1
        if self.pause_before_ack:
            time.sleep(self.pause_before_ack)
        self._call(self._settle(acks, naks, dead))
        self.tally.dead += len(dead)
        return len(msgs)
