"""swegen's pytest plugin: each test's outcome, streamed out of the container as it finishes.

Loaded with `-p swegen_stream` from a folder outside the checkout, before any of the project's
code is imported. It writes one JSON line per test phase to a file descriptor that the runner
opened onto the `docker exec` output stream, so every line leaves the process the moment it is
written: code under test that rewrites the JUnit file at exit, or replaces pytest's reports
afterwards, cannot take back what was already sent. Each line carries a nonce that only this
module read (from a file it deletes at once) and a sequence number, so lines forged by other
code in the process, or sent after the session ended, show.
"""

from __future__ import annotations

import json
import os


def _open_channel():
    fd_text = os.environ.pop("SWEGEN_STREAM_FD", "")
    nonce_file = os.environ.pop("SWEGEN_STREAM_NONCE_FILE", "")
    try:
        with open(nonce_file, encoding="ascii") as handle:
            nonce = handle.read().strip()
        os.unlink(nonce_file)
    except OSError:
        nonce = ""
    if not fd_text.isdigit() or not nonce:
        return lambda event, **fields: None
    fd = int(fd_text)
    os.set_inheritable(fd, False)  # test subprocesses must not write to it
    counter = [0]

    def send(event: str, **fields: object) -> None:
        counter[0] += 1
        line = json.dumps({"n": nonce, "seq": counter[0], "event": event, **fields}, ensure_ascii=True)
        try:
            os.write(fd, (line + "\n").encode("ascii"))
        except OSError:
            pass  # the reader sees a missing line, which is what it should see

    return send


_send = _open_channel()


def pytest_sessionstart(session) -> None:
    _send("start")


def pytest_runtest_logreport(report) -> None:
    outcome = report.outcome
    if getattr(report, "wasxfail", None) is not None:
        outcome = "xfailed" if report.skipped else "xpassed"
    # a subtest (unittest's subTest, pytest's subtests) reports under its test's id: one of many
    sub = "subtest" in type(report).__name__.lower() or getattr(report, "context", None) is not None
    _send("report", nodeid=report.nodeid, when=report.when, outcome=outcome, **({"sub": True} if sub else {}))


def pytest_collectreport(report) -> None:
    if report.failed:
        _send("collect_error", nodeid=report.nodeid)


def pytest_sessionfinish(session, exitstatus) -> None:
    _send("end", exitstatus=int(exitstatus))
