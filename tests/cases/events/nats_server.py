"""The real NATS JetStream server on 127.0.0.1:4222, one uniquely named stream per test (xdist workers never
share one), deleted afterwards."""

import asyncio
import json
import os
import uuid
from dataclasses import dataclass

import nats
from nats.js.api import StreamConfig

NATS_URL = os.environ.get("EVENTS_NATS_URL", "nats://127.0.0.1:4222")


def run(coroutine_function, *args):
    async def call():
        nc = await nats.connect(NATS_URL, connect_timeout=5)
        try:
            return await coroutine_function(nc.jetstream(), *args)
        finally:
            await nc.drain()

    return asyncio.run(call())


@dataclass
class Stream:
    name: str
    subject: str
    dead_letter: str
    durable: str = "detection"

    def publish(self, *messages) -> None:
        async def publish(js):
            for message in messages:
                data = message if isinstance(message, bytes) else json.dumps(message).encode()
                await js.publish(self.subject, data)

        run(publish)

    def dead_letters(self) -> list[tuple[dict, dict]]:
        """Every dead letter so far: (headers, body)."""

        async def read(js):
            info = await js.stream_info(self.name)
            found = []
            for sequence in range(info.state.first_seq, info.state.last_seq + 1):
                try:
                    msg = await js.get_msg(self.name, sequence)
                except nats.js.errors.NotFoundError:
                    continue
                if msg.subject == self.dead_letter:
                    found.append((dict(msg.headers or {}), json.loads(msg.data)))
            return found

        return run(read)

    def consumer(self) -> dict:
        """The durable consumer's counts: pending (not yet delivered) and ack_pending (delivered, unacked)."""

        async def info(js):
            consumer = await js.consumer_info(self.name, self.durable)
            return {"pending": consumer.num_pending, "ack_pending": consumer.num_ack_pending}

        return run(info)

    def command_options(self, **extra) -> dict:
        return {
            "stream": self.name,
            "subject": self.subject,
            "durable": self.durable,
            "dead_letter": self.dead_letter,
            **extra,
        }

    def argv(self, **extra) -> list[str]:
        args = ["--stream", self.name, "--subject", self.subject, "--durable", self.durable]
        args += ["--dead-letter", self.dead_letter]
        for name, value in extra.items():
            flag = "--" + name.replace("_", "-")
            args += [flag] if value is True else [flag, str(value)]
        return args


def new_stream() -> Stream:
    token = "evt_" + uuid.uuid4().hex[:12]
    stream = Stream(name=token, subject=f"{token}.events", dead_letter=f"{token}.dead")

    async def create(js):
        await js.add_stream(StreamConfig(name=stream.name, subjects=[stream.subject, stream.dead_letter]))

    run(create)
    return stream


def delete_stream(stream: Stream) -> None:
    async def delete(js):
        await js.delete_stream(stream.name)

    run(delete)
