"""README's configuration table names every variable the settings read."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_environment_variable_is_documented():
    settings_source = (ROOT / "config" / "settings.py").read_text()
    names = set(re.findall(r'env\.\w+\(\s*"([A-Z][A-Z0-9_]+)"', settings_source))
    assert len(names) > 30
    table = (ROOT / "README.md").read_text().split("## Configuration", 1)[1]
    missing = sorted(name for name in names if f"`{name}`" not in table)
    assert missing == []


def test_readme_shows_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    assert "make run" in readme
    assert "make test" in readme


def test_adding_a_consumer_ends_with_the_backfill_step():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### Adding a consumer", 1)[1].split("\n### ", 1)[0]
    steps = re.findall(r"^\d+\. .*?(?=^\d+\. |\Z)", section, flags=re.MULTILINE | re.DOTALL)
    assert len(steps) >= 4
    assert steps[-1].startswith(f"{len(steps)}. Backfill")
    assert "manage.py replay_events --subscription" in steps[-1]
    assert section.rstrip().endswith(steps[-1].rstrip())  # nothing after it
