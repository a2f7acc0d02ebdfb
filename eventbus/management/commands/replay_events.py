"""``manage.py replay_events``: catch a subscription up on past events, from the outbox's
history (delivered in process, either backend) or, on AWS, from the bus's archive."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser, OutputWrapper
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from tqdm import tqdm

from eventbus.aws.archive_replay import (
    ArchiveReplay,
    ArchiveReplayError,
    archive_replay_start,
    archive_replay_wait,
)
from eventbus.backfill import DEFAULT_BATCH_SIZE, BackfillReport, backfill_subscription
from eventbus.history import history_horizon
from eventbus.subscriptions import all_subscriptions, get_subscription


def _moment(option: str, text: str | None) -> datetime | None:
    if text is None:
        return None
    moment = parse_datetime(text)
    if moment is None and (day := parse_date(text)) is not None:
        moment = datetime.combine(day, datetime.min.time())
    if moment is None:
        raise CommandError(f"{option}: not an ISO 8601 date or date-time: {text!r}")
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


class _Stream:
    """tqdm writes carriage returns and no line ends; a command's OutputWrapper adds one to
    every write unless told not to."""

    def __init__(self, wrapper: OutputWrapper) -> None:
        self.wrapper = wrapper

    def write(self, text: str) -> None:
        self.wrapper.write(text, ending="")

    def flush(self) -> None:
        self.wrapper.flush()


class Command(BaseCommand):
    help = (
        "Deliver past events to ONE subscription (a new consumer catching up). By default "
        "from the outbox's history (kept for EVENT_RETENTION), in process, through the same "
        "delivery path as the bus: only events its pattern matches, a cart's events in their "
        "order, idempotent (events it handled before are duplicates). With --from-archive "
        "(EventBridge backend), EventBridge replays the bus's archive into the subscription's "
        "rule instead, and consume_events handles what arrives on its queue."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--subscription", required=True, metavar="NAME")
        parser.add_argument(
            "--since",
            metavar="WHEN",
            help="ISO 8601 date or date-time, inclusive (default: EVENT_RETENTION ago; with "
            "--from-archive, the oldest event the archive keeps)",
        )
        parser.add_argument(
            "--until", metavar="WHEN", help="ISO 8601 date or date-time, exclusive (default: now)"
        )
        parser.add_argument(
            "--detail-type",
            action="append",
            dest="detail_types",
            metavar="TYPE",
            help="only events of this detail-type (repeatable)",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="count what would be delivered (and what was handled before); change nothing",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=DEFAULT_BATCH_SIZE,
            help=f"events per delivery (default {DEFAULT_BATCH_SIZE})",
        )
        parser.add_argument(
            "--from-archive",
            action="store_true",
            help="EventBridge backend: StartReplay of the bus's archive into the "
            "subscription's rule",
        )
        parser.add_argument(
            "--no-wait",
            action="store_false",
            dest="wait",
            help="--from-archive: return once the replay started, without following it",
        )
        parser.add_argument(
            "--no-progress", action="store_false", dest="show_progress", help="no progress bar"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        name = options["subscription"]
        try:
            get_subscription(name)
        except LookupError:
            known = [item.name for item in all_subscriptions()]
            raise CommandError(f"no subscription named {name!r}; known: {known}") from None
        since = _moment("--since", options["since"])
        until = _moment("--until", options["until"])
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1")
        if options["from_archive"]:
            if options["detail_types"]:
                raise CommandError(
                    "--detail-type cannot narrow an archive replay: EventBridge replays every "
                    "event of the window that the subscription's rule matches"
                )
            self.replay_archive(name, since, until, options)
        else:
            self.backfill(name, since, until, options)

    # --- from the outbox ----------------------------------------------------------------

    def backfill(
        self, name: str, since: datetime | None, until: datetime | None, options: dict[str, Any]
    ) -> None:
        horizon = history_horizon()
        if since is not None and since < horizon:
            self.stderr.write(
                f"note: events before {horizon.isoformat()} (EVENT_RETENTION ago) may have been "
                "pruned from the outbox; what is left of them is delivered"
            )
        bar: tqdm | None = None

        def progress(report: BackfillReport) -> None:
            nonlocal bar
            if not options["show_progress"]:
                return
            if bar is None:
                bar = tqdm(
                    total=report.total,
                    unit="event",
                    desc=f"{'planning' if report.dry_run else 'replaying'} {name}",
                    file=_Stream(self.stderr),
                    dynamic_ncols=True,
                )
            bar.update(report.read - bar.n)
            bar.set_postfix(
                delivered=report.delivered,
                duplicates=report.duplicates,
                dead_letters=report.dead_letters,
                skipped=report.skipped,
                refresh=False,
            )

        try:
            report = backfill_subscription(
                subscription_name=name,
                since=since,
                until=until,
                detail_types=options["detail_types"],
                batch_size=options["batch_size"],
                dry_run=options["dry_run"],
                progress=progress,
            )
        except ValueError as error:
            raise CommandError(str(error)) from error
        finally:
            if bar is not None:
                bar.close()
        self.stdout.write(report.summary())
        if report.retries:
            self.stdout.write(f"{report.retries} failed attempt(s) were retried")
        if options["dry_run"]:
            self.stdout.write("Dry run: nothing was delivered.")
        elif report.dead_letters:
            raise CommandError(
                f"{report.dead_letters} event(s) became dead letters: see the admin's dead "
                f"letters, fix the handler, then `manage.py replay_dead_letters --subscription "
                f"{name}`"
            )
        else:
            self.stdout.write(self.style.SUCCESS(f"{name} has caught up."))

    # --- from the EventBridge archive ---------------------------------------------------

    def replay_archive(
        self, name: str, since: datetime | None, until: datetime | None, options: dict[str, Any]
    ) -> None:
        try:
            replay = archive_replay_start(
                subscription_name=name, since=since, until=until, dry_run=options["dry_run"]
            )
        except (ArchiveReplayError, ImproperlyConfigured) as error:
            raise CommandError(str(error)) from error
        window = f"events from {replay.since.isoformat()} to {replay.until.isoformat()}"
        if options["dry_run"]:
            self.stdout.write(
                f"Dry run: would start replay {replay.name} of {replay.archive_arn} ({window}) "
                f"into {replay.rule_arn} only."
            )
            return
        self.stdout.write(
            f"Started replay {replay.name} of {replay.archive_arn} ({window}) into "
            f"{replay.rule_arn} only: {replay.state}."
        )
        if options["wait"]:
            status = self.follow(replay, options["show_progress"])
            self.stdout.write(f"Replay {replay.name}: {status['State']}")
            if status["State"] != "COMPLETED":
                reason = status.get("StateReason") or "see `aws events describe-replay`"
                raise CommandError(f"replay {replay.name} ended {status['State']}: {reason}")
        self.stdout.write(
            f"The events arrive on {name}'s queue: `manage.py consume_events --subscription "
            f"{name}` handles them (events it handled before are duplicates)."
        )

    def follow(self, replay: ArchiveReplay, show_progress: bool) -> dict[str, Any]:
        bar = (
            tqdm(
                total=100,
                unit="%",
                desc=f"replay {replay.name}",
                file=_Stream(self.stderr),
                dynamic_ncols=True,
            )
            if show_progress
            else None
        )

        def progress(status: dict[str, Any]) -> None:
            if bar is not None:
                bar.update(round(100 * replay.fraction_done(status)) - bar.n)
                bar.set_postfix(state=status["State"], refresh=False)

        try:
            return archive_replay_wait(replay, progress=progress)
        finally:
            if bar is not None:
                bar.close()
