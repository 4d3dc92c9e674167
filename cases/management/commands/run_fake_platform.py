from django.core.management.base import BaseCommand

from cases.demo_platform import PATH, make_server


class Command(BaseCommand):
    help = (
        "Serve the demo's stand-in platform on loopback: verifies enforcement webhooks' signatures and "
        "answers 200 (make run starts it; never for production)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8001)

    def handle(self, *args, host: str, port: int, **options):
        server = make_server(host, port, log=lambda line: self.stdout.write(line))
        self.stdout.write(f"Demo platform: POST http://{host}:{server.server_port}{PATH}")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
