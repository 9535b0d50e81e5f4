"""The @context errors the NGSI-LD API answers with a problem document (clause 6.3.2)."""

from __future__ import annotations

from typing import ClassVar

_ERRORS = "https://uri.etsi.org/ngsi-ld/errors/"


class ContextError(Exception):
    """An @context problem the API answers with an NGSI-LD problem document."""

    problem_type: ClassVar[str] = _ERRORS + "BadRequestData"
    title: ClassVar[str] = "Bad request data"
    status: ClassVar[int] = 400

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidContext(ContextError):
    """The @context itself is not valid JSON-LD (clause 5.5.4: BadRequestData)."""

    title = "Invalid @context"


class BadContextRequest(ContextError):
    """The request breaks the rules for where its @context goes (clause 6.3.5)."""

    title = "Misplaced @context"


class ContextNotAvailable(ContextError):
    """A remote @context could not be obtained or used (LdContextNotAvailable)."""

    problem_type = _ERRORS + "LdContextNotAvailable"
    title = "@context not available"
    # 503, as the hub's NGSI-LD issue asks and as Orion-LD and Stellio answer; table
    # 6.3.2-1 of V1.8 says 504 Gateway Timeout. Either tells a client to try again later.
    status = 503

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"cannot use the @context at {url}: {reason}")
        self.url = url
        self.reason = reason


class ContextNotFound(ContextError):
    """No stored @context has that id or URL (clause 5.13: ResourceNotFound)."""

    problem_type = _ERRORS + "ResourceNotFound"
    title = "No such @context"
    status = 404


class ContextOperationNotSupported(ContextError):
    """The stored @context does not allow that operation (OperationNotSupported)."""

    problem_type = _ERRORS + "OperationNotSupported"
    title = "Operation not supported"
    status = 422
