"""python manage.py grant_role USERNAME {agent,lead,admin} [--team NAME ...]: set someone's role, audited."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from moderation.audit import Actor
from moderation.roles import ROLE_BY_LABEL
from moderation.services import assign_role


class Command(BaseCommand):
    help = "Give a user exactly one role (agent, lead, admin) and add them to team groups; audited."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("role", choices=sorted(ROLE_BY_LABEL))
        parser.add_argument("--team", action="append", default=[], help="A team group (repeatable).")

    def handle(self, username, role, team, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user {username!r}.")
        try:
            assign_role(user=user, role=role, teams=team, actor=Actor.system("grant_role"))
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"{username} is now {role}" + (f" in {', '.join(team)}" if team else "") + ".")
