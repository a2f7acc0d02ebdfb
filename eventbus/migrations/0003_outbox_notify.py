"""On PostgreSQL, NOTIFY eventbus_outbox when outbox rows commit (eventbus.wakeups)."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION eventbus_outbox_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('eventbus_outbox', '');
    RETURN NULL;
END
$$;
DROP TRIGGER IF EXISTS eventbus_outbox_notify ON eventbus_outboxevent;
CREATE TRIGGER eventbus_outbox_notify AFTER INSERT ON eventbus_outboxevent
FOR EACH STATEMENT EXECUTE FUNCTION eventbus_outbox_notify();
"""

DROP = """
DROP TRIGGER IF EXISTS eventbus_outbox_notify ON eventbus_outboxevent;
DROP FUNCTION IF EXISTS eventbus_outbox_notify();
"""


def _on_postgresql(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("eventbus", "0002_operator_permissions")]

    operations = [migrations.RunPython(_on_postgresql(CREATE), _on_postgresql(DROP))]
