"""The Procfile names every process, and `make run` (bin/serve), `make run-aws`
(bin/serve-aws) and docs/aws.md agree with it: the scripts start Procfile entries by name,
and the docs show the entries' commands."""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path

from django.core.management import get_commands

ROOT = Path(__file__).resolve().parents[2]
PROCESSES = {"web", "worker", "beat", "relay", "consumers"}


def procfile() -> dict[str, str]:
    entries = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, command = line.partition(":")
            assert re.fullmatch(r"[a-z]+", name), line
            entries[name] = command.strip()
    return entries


def started_by(script: str) -> list[str]:
    [line] = [
        line
        for line in (ROOT / "bin" / script).read_text().splitlines()
        if line.startswith("start_processes ")
    ]
    return line.split()[1:]


def test_the_procfile_names_every_process():
    assert set(procfile()) == PROCESSES


def test_each_command_runs_a_real_program():
    commands = get_commands()
    for name, command in procfile().items():
        words = shlex.split(command)
        if words[0] == "python":
            assert words[1] == "manage.py" and words[2] in commands, (name, command)
        else:
            assert words[0] in {"gunicorn", "celery"}, (name, command)
            assert (Path(sys.executable).parent / words[0]).exists(), (name, command)


def test_make_run_and_make_run_aws_start_procfile_entries():
    assert started_by("serve") == ["web", "worker", "beat"]  # the Celery backend
    assert started_by("serve-aws") == ["web", "relay", "consumers"]  # the EventBridge one
    makefile = (ROOT / "Makefile").read_text()
    assert "bin/serve\n" in makefile and "bin/serve-aws\n" in makefile
    for script in ("serve", "serve-aws"):
        text = (ROOT / "bin" / script).read_text()
        # No process of the Procfile started behind its back.
        assert "gunicorn" not in text and "relay_events" not in text
        assert "consume_events" not in text and "celery" not in text


def test_docs_aws_lists_the_procfile_commands():
    docs = (ROOT / "docs" / "aws.md").read_text()
    for name in ("web", "relay", "consumers"):
        assert f"| {name} | `{procfile()[name]}` |" in docs, name
    for name in ("worker", "beat"):
        assert f"`{name}`" in docs
