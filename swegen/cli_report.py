"""Command-line commands of the report stage: `swegen report` and `swegen scores`.

Registered on the main group by swegen.cli; errors are SwegenError, turned into one line there.
"""

from __future__ import annotations

import click


def register(cli: click.Group) -> None:
    """Add the report-stage commands to the main command group."""
