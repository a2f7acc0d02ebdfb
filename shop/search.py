"""Catalog search: PostgreSQL full-text search with ranking, a plain match elsewhere.

On PostgreSQL each word of the query is a prefix (``yirga`` finds "Yirgacheffe") matched
against two sets of lexemes of name (weight A) and description (weight B): the stemmed
ones of the shop's language (``SHOP_SEARCH_CONFIG``), so "mugs" finds "mug", and the
unstemmed ``simple`` ones, so a half-typed word matches whatever the stemmer makes of the
whole word ("runn" finds "running", which English stems to "run"). Prefix matching keeps
to the built-in text search (no extension such as pg_trgm to install) and ranks with
``ts_rank``; a name match weighs more than a description match. Other databases (SQLite)
get a case-insensitive substring match, name matches first.
"""

from __future__ import annotations

import re
from functools import reduce
from operator import and_, or_

from django.conf import settings
from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector
from django.db import connections
from django.db.models import Case, Q, QuerySet, Value, When

from shop.models import Product

MAX_QUERY_LENGTH = 100
MAX_TERMS = 8
# Letters and digits of any script; everything else (tsquery operators included) separates.
_TERM = re.compile(r"[^\W_]+")


def search_terms(text: str) -> list[str]:
    """The words of a query, lower-cased, at most ``MAX_TERMS`` of them, no duplicates."""
    terms = _TERM.findall(text[:MAX_QUERY_LENGTH].lower())
    return list(dict.fromkeys(terms))[:MAX_TERMS]


def products_matching(products: QuerySet[Product], *, terms: list[str]) -> QuerySet[Product]:
    """``products`` that contain every term, annotated with ``search_rank`` (higher first)."""
    if connections[products.db].vendor == "postgresql":
        return _full_text(products, terms)
    return _substring(products, terms)


def _full_text(products: QuerySet[Product], terms: list[str]) -> QuerySet[Product]:
    language = settings.SHOP_SEARCH_CONFIG
    vector = reduce(
        lambda left, right: left + right,
        [
            SearchVector("name", weight="A", config=config)
            + SearchVector("description", weight="B", config=config)
            for config in (language, "simple")
        ],
    )
    # Terms hold letters and digits only, so the raw tsquery syntax is safe to build.
    query = reduce(
        and_,
        [
            SearchQuery(f"{term}:*", search_type="raw", config=language)
            | SearchQuery(f"{term}:*", search_type="raw", config="simple")
            for term in terms
        ],
    )
    return (
        products.annotate(search_document=vector)
        .filter(search_document=query)
        .annotate(search_rank=SearchRank(vector, query))
    )


def _substring(products: QuerySet[Product], terms: list[str]) -> QuerySet[Product]:
    matches = [Q(name__icontains=term) | Q(description__icontains=term) for term in terms]
    in_name = reduce(and_, [Q(name__icontains=term) for term in terms])
    in_name_partly = reduce(or_, [Q(name__icontains=term) for term in terms])
    return products.filter(reduce(and_, matches)).annotate(
        search_rank=Case(
            When(in_name, then=Value(2.0)),
            When(in_name_partly, then=Value(1.0)),
            default=Value(0.0),
        )
    )
