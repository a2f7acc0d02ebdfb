# Reminders get a random link token (the recovery link names it instead of the id); each
# existing row gets its own uuid before the column becomes unique.

import uuid

from django.db import migrations, models


def give_each_reminder_a_token(apps, schema_editor):
    Reminder = apps.get_model("notifications", "Reminder")
    for pk in Reminder.objects.filter(link_token__isnull=True).values_list("pk", flat=True):
        Reminder.objects.filter(pk=pk).update(link_token=uuid.uuid4())


class Migration(migrations.Migration):

    dependencies = [
        ("notifications", "0002_emailsuppression_plural"),
    ]

    operations = [
        migrations.AddField(
            model_name="reminder",
            name="link_token",
            field=models.UUIDField(editable=False, null=True),
        ),
        migrations.RunPython(give_each_reminder_a_token, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="reminder",
            name="link_token",
            field=models.UUIDField(default=uuid.uuid4, editable=False, unique=True),
        ),
        migrations.AlterField(
            model_name="reminder",
            name="clicked_at",
            field=models.DateTimeField(
                blank=True, help_text="When the recovery link was used (it works once).", null=True
            ),
        ),
    ]
