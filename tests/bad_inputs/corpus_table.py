"""Turn a corpus log into the Markdown table of docs/reliability.md.

Run the corpus with a log, then format it::

    PHENOSCOPE_CORPUS_LOG=/tmp/corpus.jsonl python -m pytest tests/bad_inputs
    python tests/bad_inputs/corpus_table.py /tmp/corpus.jsonl > table.md

Temporary paths are shortened to what a user would recognise (``.../project/...``).
"""

from __future__ import annotations

import json
import re
import sys

#: pytest's per-test temporary folders, e.g. /tmp/pytest-of-root/pytest-3/test_x0/, or
#: /tmp/pytest-of-root/pytest-3/popen-gw1/test_x0/ under pytest-xdist
TEMPORARY = re.compile(r"/tmp/pytest-of-[^/]+/pytest-\d+/(?:popen-gw\d+/)?[^/]+/")


def table(lines: list[str]) -> str:
    rows = ["| case | command | exit | what the user reads (stderr) |", "| --- | --- | --- | --- |"]
    for line in lines:
        record = json.loads(line)
        test = record["test"].split("::", 1)[-1]
        message = TEMPORARY.sub(".../", " ".join(record["stderr"]))
        message = message.replace("|", "\\|") or "(nothing; exit 0)"
        rows.append(f"| `{test}` | {record['command']} | {record['code']} | {message} |")
    return "\n".join(rows)


if __name__ == "__main__":
    with open(sys.argv[1]) as handle:
        print(table(handle.read().splitlines()))
