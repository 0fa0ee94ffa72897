"""getResolvedOptions as documented: each named option is required and read from `--name value` in argv;
Glue's own arguments (JOB_NAME, JOB_ID, JOB_RUN_ID, --job-bookmark-option, --TempDir, ...) may be present
and are passed over; argv[0] is the script."""

from __future__ import annotations

import argparse


def getResolvedOptions(args: list[str], options: list[str]) -> dict[str, str]:  # noqa: N802 (Glue's name)
    parser = argparse.ArgumentParser(prog="glue-job", allow_abbrev=False)
    for option in options:
        parser.add_argument(f"--{option}", required=True)
    known, _ = parser.parse_known_args(args[1:])
    return vars(known)
