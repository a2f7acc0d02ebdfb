"""``manage.py list_events``: the event type registry, its schemas and who subscribes."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from eventbus.events import EventType, event_types
from eventbus.patterns import InvalidPattern, compile_pattern
from eventbus.subscriptions import Subscription, all_subscriptions

ROUTING_FIELDS = ("source", "detail-type")

HOW_MATCHED = (
    "Subscribers: each subscription's pattern is tested on the type's source and detail-type "
    "only;\n'*' marks a pattern that also filters on other fields (detail, ...), so it gets "
    "some events of the type, not necessarily all."
)


def routing_part(pattern: dict[str, Any]) -> dict[str, Any] | None:
    """The part of ``pattern`` that looks at source and detail-type (None: it does not)."""
    part = {key: value for key, value in pattern.items() if key in ROUTING_FIELDS}
    branches = pattern.get("$or")
    if isinstance(branches, list):
        branch_parts = [routing_part(branch) for branch in branches if isinstance(branch, dict)]
        # An alternative that ignores routing lets every type through: the $or adds nothing.
        if branch_parts and all(item is not None for item in branch_parts):
            part["$or"] = branch_parts
    return part or None


def could_receive(subscription: Subscription, event_type: EventType) -> bool:
    part = routing_part(subscription.pattern)
    if part is None:
        return True
    try:
        matcher = compile_pattern(part)
    except InvalidPattern:  # cannot happen for a valid pattern; err on the side of listing
        return True
    return matcher.matches({"source": event_type.source, "detail-type": event_type.detail_type})


def filters_beyond_routing(subscription: Subscription) -> bool:
    return routing_part(subscription.pattern) != subscription.pattern


class Command(BaseCommand):
    help = "List every event type: source, detail-type, schema fields and subscribers."

    def handle(self, *args: Any, **options: Any) -> None:
        subscriptions = list(all_subscriptions())
        unmatched = {item.name for item in subscriptions}
        types = list(event_types())
        for event_type in types:
            self.stdout.write(self.style.MIGRATE_HEADING(event_type.detail_type))
            cls = event_type.event_class
            self.stdout.write(f"  source:      {event_type.source}")
            self.stdout.write(f"  declared in: {cls.__module__}.{cls.__qualname__}")
            self.stdout.write("  fields:")
            fields = event_type.fields
            name_width = max(len(name) for name, _, _ in fields)
            kind_width = max(len(kind) for _, kind, _ in fields)
            for name, kind, required in fields:
                flag = "required" if required else "optional"
                self.stdout.write(f"    {name:<{name_width}}  {kind:<{kind_width}}  {flag}")
            subscribers = [
                item.name + ("*" if filters_beyond_routing(item) else "")
                for item in subscriptions
                if could_receive(item, event_type)
            ]
            unmatched -= {name.rstrip("*") for name in subscribers}
            self.stdout.write(f"  subscribers: {', '.join(subscribers) or '(none)'}")
            self.stdout.write("")
        self.stdout.write(f"{len(types)} event types, {len(subscriptions)} subscriptions.")
        if unmatched:
            self.stdout.write(
                self.style.WARNING(
                    "Subscriptions matching no registered type: " + ", ".join(sorted(unmatched))
                )
            )
        self.stdout.write(HOW_MATCHED)
