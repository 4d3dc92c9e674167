"""`manage.py consume_events`: read platform events from NATS JetStream and run detection on them.

Run as many as the load needs: processes with the same `--durable` share the work (each message goes to one
of them) and take over each other's unacked messages after `--ack-wait`. SIGTERM (or Ctrl-C) finishes the
batch in hand, acks it and exits.

    python manage.py consume_events --source acme --stream EVENTS --subject events.platform --durable detection
"""

import argparse
import signal
import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from cases.management.event_stream import EventStream
from moderation.models import Vendor


class Command(BaseCommand):
    help = "Consume platform events from a NATS JetStream durable pull consumer (see module docstring)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--source", required=True, help="Slug of the vendor (platform) the events are from."
        )
        parser.add_argument("--url", default=settings.EVENTS_NATS_URL)
        parser.add_argument("--stream", default="EVENTS")
        parser.add_argument("--subject", default="events.platform")
        parser.add_argument("--durable", default="detection", help="Same durable name: shared work.")
        parser.add_argument("--dead-letter", default="", help="Default: <subject>.dead")
        parser.add_argument("--batch", type=int, default=100)
        parser.add_argument("--ack-wait", type=float, default=settings.EVENTS_ACK_WAIT_SECONDS)
        parser.add_argument("--max-deliver", type=int, default=settings.EVENTS_MAX_DELIVER)
        parser.add_argument("--max-messages", type=int, default=0, help="Exit after this many (0: never).")
        parser.add_argument("--once", action="store_true", help="Exit when no message is waiting.")
        # Fault injection for the crash tests (a committed batch whose acks are not sent yet).
        parser.add_argument("--pause-before-ack", type=float, default=0.0, help=argparse.SUPPRESS)

    def handle(self, *args, **options):
        source = Vendor.objects.filter(slug=options["source"], is_active=True).first()
        if source is None:
            raise CommandError(f"no active vendor {options['source']!r}")
        subject = options["subject"]
        dead_letter = options["dead_letter"] or f"{subject}.dead"
        if not options["dead_letter"] and any(token in subject for token in "*>"):
            raise CommandError("a wildcard --subject needs an explicit --dead-letter subject")
        if options["batch"] < 1 or options["max_deliver"] < 2 or options["ack_wait"] <= 0:
            raise CommandError("--batch >= 1, --max-deliver >= 2 and --ack-wait > 0")
        stream = EventStream(
            url=options["url"],
            stream=options["stream"],
            subject=subject,
            durable=options["durable"],
            dead_letter=dead_letter,
            ack_wait=options["ack_wait"],
            max_deliver=options["max_deliver"],
            source=source,
            pause_before_ack=options["pause_before_ack"],
        )
        stopping = []

        def stop(signum, _frame):
            stopping.append(signum)  # the batch in hand is finished and acked first

        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        stream.open()
        self.stdout.write(f"consuming {options['stream']}/{options['durable']} on {subject}")
        self.stdout.flush()
        limit = options["max_messages"]
        try:
            while not stopping:
                want = options["batch"] if not limit else min(options["batch"], limit - stream.tally.handled)
                if want <= 0:
                    break
                fetched = stream.run_batch(want)
                if not fetched and options["once"]:
                    break
        finally:
            stream.close()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        tally = stream.tally
        self.stdout.write(
            f"consumed {tally.handled}: created {tally.created}, duplicate {tally.duplicate}, "
            f"dead-lettered {tally.dead}, retried {tally.retried}, outcomes {tally.outcomes}"
            + (" (stopped by signal)" if stopping else "")
        )
        sys.stdout.flush()
