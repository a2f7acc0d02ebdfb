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
        # axes measures "expired" from the time of the login attempt on the request, which
        # only its login flow sets (without it the action raised AttributeError, a 500): an
        # admin action is no attempt, so from now.
        if not hasattr(request, "axes_attempt_time"):
            request.axes_attempt_time = None
        super().cleanup_expired_attempts(request, queryset)
