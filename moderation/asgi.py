"""The ASGI application the production server runs (moderation/serving.py: gunicorn with uvicorn workers).

Under ASGI every request runs its synchronous code (all of this app's views) in a thread of its own, so a
persistent database connection is never reused by the next request: it stays open until its thread is
collected. Django's docs say to turn persistent connections off under ASGI and pool instead, which DB_POOL does
(moderation/settings.py); it is on wherever this module is served, unless DB_POOL=0 is set.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "moderation.settings")
os.environ.setdefault("DB_POOL", "1")
application = get_asgi_application()
