"""The error a Salesforce REST endpoint answers with, as data the HTTP layer can render.

It is not a SyncmapError: it never reaches a syncmap user directly, it travels over the wire as
``[{"message": ..., "errorCode": ..., "fields": [...]}]`` exactly as Salesforce sends it.
"""

from __future__ import annotations


class ApiError(Exception):
    """A Salesforce API failure: HTTP status, errorCode, message and the fields concerned."""

    def __init__(self, status: int, code: str, message: str, fields: tuple[str, ...] = ()):
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields

    def body(self) -> list[dict]:
        """The JSON body of a REST error response."""
        return [{"message": self.message, "errorCode": self.code, "fields": list(self.fields)}]

    def record_error(self) -> dict:
        """The error as it appears inside a per-record result of a collection call."""
        return {"statusCode": self.code, "message": self.message, "fields": list(self.fields)}


class MultipleChoices(ApiError):
    """An external id matched several records: HTTP 300 with the list of their URLs as body."""

    def __init__(self, urls: list[str]):
        super().__init__(300, "MULTIPLE_CHOICES", "More than one record matches")
        self.urls = urls

    def body(self) -> list[str]:  # type: ignore[override]
        return self.urls


def not_found() -> ApiError:
    return ApiError(404, "NOT_FOUND", "The requested resource does not exist")


def invalid_type(name: str) -> ApiError:
    return ApiError(
        400,
        "INVALID_TYPE",
        f"sObject type '{name}' is not supported. If you are attempting to use a custom object, "
        "be sure to append the '__c' after the entity name. Please reference your WSDL or the "
        "describe call for the appropriate names.",
    )


def json_parse_error(detail: str) -> ApiError:
    return ApiError(400, "JSON_PARSER_ERROR", detail)
