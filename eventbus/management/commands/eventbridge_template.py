"""``manage.py eventbridge_template``: print the CloudFormation template of the shop's AWS
resources (the same resources ``provision_eventbridge`` creates, names as parameters)."""

from __future__ import annotations

import json
from typing import Any

import yaml
from django.core.management.base import BaseCommand, CommandParser

from eventbus.aws.cloudformation import template


class _TemplateDumper(yaml.SafeDumper):
    """CloudFormation's YAML: no anchors or aliases (it rejects them), multi-line strings (the
    schemas' contents) as blocks."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _string(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_TemplateDumper.add_representer(str, _string)


class Command(BaseCommand):
    help = (
        "Print a CloudFormation template for the EventBridge backend, derived from the code: "
        "bus and archive, a rule + SQS queue + DLQ per subscription, Scheduler group and role, "
        "schema registry, and the web, relay and consumer IAM policies. Deploy it with "
        "`aws cloudformation deploy` (docs/aws.md)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--format", choices=["yaml", "json"], default="yaml", help="Default: yaml."
        )
        parser.add_argument(
            "--no-schemas",
            action="store_false",
            dest="schemas",
            help="Leave out the schema registry and its schemas.",
        )

    def handle(self, *args: Any, format: str, schemas: bool, **options: Any) -> None:
        document = template(schemas=schemas)
        if format == "json":
            self.stdout.write(json.dumps(document, indent=2))
        else:
            self.stdout.write(
                yaml.dump(document, Dumper=_TemplateDumper, sort_keys=False, width=100), ending=""
            )
