"""Errors a user can fix.

Library code raises these; only the CLI turns them into one line and an exit code. Each carries
`hint`, the thing to do about it, so the message a user sees always says what to do next.
"""

from __future__ import annotations


class SwegenError(Exception):
    """A problem the user can fix: printed as one line, exit code 2, no traceback."""

    exit_code = 2

    def __init__(self, message: str, hint: str = "", detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.detail = detail

    def one_line(self) -> str:
        return f"{self.message}: {self.hint}" if self.hint else self.message


class NotBuiltYet(SwegenError):
    """A pipeline stage that this version of swegen does not have yet."""


class DockerUnavailable(SwegenError):
    """No Docker daemon answers, or the SDK cannot talk to it."""


class ImageMissing(SwegenError):
    """A base or environment image that a run needs is not present locally."""


class ImageBuildFailed(SwegenError):
    """Building an image failed; the build log says why."""


class PackageIndexDown(ImageBuildFailed):
    """A build could not reach the package index (an outage of ours, not the recipe's failure)."""


class SandboxError(SwegenError):
    """The sandbox itself broke (not the command run in it: a failing command is just a result)."""


class NotAGitRepository(SwegenError):
    """A path that should be a git repository is not one."""


class GitError(SwegenError):
    """A git command failed."""


class DiskSpaceLow(SwegenError):
    """Not enough free disk for the work asked for."""


class BadInput(SwegenError):
    """A file or option the user gave is malformed."""


class InfrastructureDown(SwegenError):
    """Too many infrastructure failures in a row (a model endpoint or Docker is down): the stage stops."""
