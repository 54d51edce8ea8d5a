"""Why a driver could not do its job, in terms the worker acts on: retry later, or give up and tell."""

from __future__ import annotations


class DriverError(Exception):
    """Base of every failure a driver reports.

    `type` is a stable machine name for the failure, `retryable` tells the worker whether the same job
    may succeed later unchanged, `message` is a sentence for a person. Messages never carry secrets.
    """

    type: str = "driver_error"
    retryable: bool = False

    def __init__(self, message: str, *, type: str | None = None) -> None:  # noqa: A002 - the field's name
        super().__init__(message)
        self.message = message
        if type is not None:
            self.type = type

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(type={self.type!r}, message={self.message!r})"


class CredentialsRejected(DriverError):
    """The marketplace refused the credentials (or their rights); only the user can fix them."""

    type = "credentials_rejected"
    retryable = False


class TransientFailure(DriverError):
    """The marketplace is unavailable or throttling even after our retries; try the job again later."""

    type = "transient_failure"
    retryable = True

    def __init__(self, message: str, *, type: str | None = None, retry_after: float | None = None) -> None:  # noqa: A002
        super().__init__(message, type=type)
        # Seconds the marketplace asked us to wait, when it said so; the worker may schedule by it.
        self.retry_after = retry_after


class PermanentFailure(DriverError):
    """The request cannot succeed as it is (unexpected answer, missing setup); retrying will not help."""

    type = "permanent_failure"
    retryable = False
