"""The API's one parser: JSON, with the body capped before it is parsed."""

from __future__ import annotations

import io
from typing import Any

from django.conf import settings
from rest_framework import exceptions, status
from rest_framework.parsers import JSONParser


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Request body too large."
    default_code = "payload_too_large"

    @classmethod
    def over_the_limit(cls) -> PayloadTooLarge:
        return cls(f"Request body over {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes.")


class LimitedJSONParser(JSONParser):
    """DRF reads the raw stream, past Django's size check: cap it here before parsing; and
    JSON nested deeper than the parser can follow is a 400, not a ``RecursionError``."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        request = (parser_context or {}).get("request")
        declared = request.META.get("CONTENT_LENGTH") if request is not None else None
        if declared and declared.isdigit() and int(declared) > limit:
            raise PayloadTooLarge.over_the_limit()
        body = stream.read(limit + 1) if stream is not None else b""
        if len(body) > limit:
            raise PayloadTooLarge.over_the_limit()
        try:
            return super().parse(io.BytesIO(body), media_type, parser_context)
        except RecursionError as error:
            raise exceptions.ParseError("JSON parse error - nested too deeply.") from error
