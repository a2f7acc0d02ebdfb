"""``manage.py replay_dead_letters``: send dead letters on again, as the admin action does."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from eventbus.models import DeadLetter
from eventbus.replay import replay_dead_letter


class Command(BaseCommand):
    help = (
        "Replay dead letters: --id N (repeatable; replays even if replayed before), "
        "--subscription NAME or --all (those not replayed yet). --dry-run only lists them."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--id", type=int, action="append", dest="ids", default=[])
        parser.add_argument("--subscription", help="the subscription's letters not replayed yet")
        parser.add_argument("--all", action="store_true", help="every letter not replayed yet")
        parser.add_argument("--dry-run", action="store_true", help="list, do not replay")

    def handle(self, *args: Any, **options: Any) -> None:
        letters = self.select(options)
        verb = "would replay" if options["dry_run"] else "replayed"
        replayed = failed = 0
        for letter in letters:
            label = (
                f"#{letter.pk} {letter.subscription} {letter.detail_type or '?'} "
                f"{letter.event_id or '-'}"
            )
            if not options["dry_run"]:
                try:
                    replay_dead_letter(letter)
                except Exception as error:  # report it and go on with the others
                    failed += 1
                    self.stderr.write(f"failed {label}: {type(error).__name__}: {error}")
                    continue
            replayed += 1
            self.stdout.write(f"{verb} {label}")
        self.stdout.write(f"{verb} {replayed} dead letter(s), {failed} failed")
        if failed:
            raise CommandError(f"{failed} dead letter(s) could not be replayed")

    def select(self, options: dict[str, Any]) -> list[DeadLetter]:
        if not (options["ids"] or options["subscription"] or options["all"]):
            raise CommandError("say which letters: --id N, --subscription NAME or --all")
        if options["ids"]:
            letters = list(DeadLetter.objects.filter(pk__in=options["ids"]).order_by("pk"))
            missing = set(options["ids"]) - {letter.pk for letter in letters}
            if missing:
                raise CommandError(f"no dead letter with id {', '.join(map(str, sorted(missing)))}")
            return letters
        pending = DeadLetter.objects.filter(replayed_at__isnull=True).order_by("created_at", "pk")
        if options["subscription"]:
            pending = pending.filter(subscription=options["subscription"])
        return list(pending)
