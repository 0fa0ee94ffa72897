"""Errors the ingestion stage raises on purpose, each with a one-line message for the user."""

from __future__ import annotations

import posixpath


class BadFileError(Exception):
    """A raw file that cannot be ingested at all; nothing of it is written to the lake.

    The message is one line: ``<file name>: <problem>``, so it can go straight into a log line,
    a JSON report or ``_rejected_files/<name>.error.json``.
    """

    def __init__(self, path: str, problem: str) -> None:
        from ingestion.text import MAX_MESSAGE_CHARS, shown  # the problem may quote the file's own values

        self.path = path
        self.file_name = posixpath.basename(path.rstrip("/"))
        self.problem = shown(" ".join(problem.split()), MAX_MESSAGE_CHARS)
        super().__init__(f"{shown(self.file_name, MAX_MESSAGE_CHARS)}: {self.problem}")


class InputSetError(BadFileError):
    """The list of inputs as a whole is unacceptable: duplicates, or files that fail preflight.

    A BadFileError too, so a caller that refuses bad files refuses a bad set the same way; the
    message lists every problem (each ``<file name>: <problem>``), separated by '; ', and
    `refusals` holds them one per file.
    """

    def __init__(self, refusals: list[BadFileError]) -> None:
        self.refusals = list(refusals)
        self.problems = [str(refusal) for refusal in self.refusals]
        self.path = ""
        self.file_name = ""
        self.problem = "; ".join(self.problems)
        Exception.__init__(self, self.problem)


class ReconciliationError(RuntimeError):
    """rows_read != rows_accepted + rows_quarantined: a bug, never a data problem; the job stops."""
