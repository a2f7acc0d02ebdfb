"""The pages the ``type`` URIs of problem details point at: one per problem type."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from core.problems import PROBLEM_TYPES


@require_safe
def problem_type_page(request: HttpRequest, slug: str) -> HttpResponse:
    problem = PROBLEM_TYPES.get(slug)
    if problem is None:
        raise Http404("No such problem type.")
    return render(request, "core/problem_type.html", {"problem": problem})
