"""``manage.py list_events``: the event types, their versions and schemas, who publishes
and who subscribes, in a terminal. The same facts as the AsyncAPI catalog
(``export_asyncapi``, ``/api/events/``), from the same helpers."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from eventbus.catalog import could_receive, filters_beyond_routing
from eventbus.events import event_types
from eventbus.subscriptions import all_subscriptions
from eventbus.versioning import reading_version

HOW_MATCHED = (
    "Subscribers: each subscription's pattern is tested on the type's source and detail-type "
    "only;\n'*' marks a pattern that also filters on other fields (detail, ...), so it gets "
    "some events of the type, not necessarily all; (vN) a subscription reading an older "
    "version.\nThe AsyncAPI catalog of the same: manage.py export_asyncapi, GET /api/events/."
)


class Command(BaseCommand):
    help = "List every event type: source, versions, schema fields and subscribers."

    def handle(self, *args: Any, **options: Any) -> None:
        subscriptions = list(all_subscriptions())
        unmatched = {item.name for item in subscriptions}
        every_version = list(event_types(all_versions=True))
        types = list(event_types())
        for event_type in types:
            self.stdout.write(self.style.MIGRATE_HEADING(event_type.detail_type))
            cls = event_type.event_class
            versions = [
                item.version
                for item in every_version
                if (item.source, item.detail_type) == (event_type.source, event_type.detail_type)
            ]
            self.stdout.write(f"  source:      {event_type.source}")
            self.stdout.write(f"  declared in: {cls.__module__}.{cls.__qualname__}")
            if len(versions) > 1:
                listed = ", ".join(f"v{number}" for number in versions)
                self.stdout.write(f"  versions:    {listed} (fields of v{event_type.version})")
            self.stdout.write("  fields:")
            fields = event_type.fields
            name_width = max(len(name) for name, _, _ in fields)
            kind_width = max(len(kind) for _, kind, _ in fields)
            for name, kind, required in fields:
                flag = "required" if required else "optional"
                self.stdout.write(f"    {name:<{name_width}}  {kind:<{kind_width}}  {flag}")
            subscribers = []
            for item in subscriptions:
                if not could_receive(item, event_type):
                    continue
                unmatched.discard(item.name)
                read = reading_version(item.versions, event_type)
                subscribers.append(
                    item.name
                    + ("*" if filters_beyond_routing(item) else "")
                    + (f" (v{read})" if read != event_type.version else "")
                )
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
