"""django-axes' admin of failed logins, its one action behind a permission like every
action of ours (clearing expired attempts deletes rows: the delete permission)."""

from __future__ import annotations

from axes.admin import AccessAttemptAdmin
from axes.models import AccessAttempt
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

admin.site.unregister(AccessAttempt)


@admin.register(AccessAttempt)
class FailedLoginAdmin(AccessAttemptAdmin):
    @admin.action(description="Clean up expired attempts", permissions=["delete"])
    def cleanup_expired_attempts(self, request: HttpRequest, queryset: QuerySet) -> None:
        super().cleanup_expired_attempts(request, queryset)
