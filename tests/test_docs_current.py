"""The docs say what is true now: no commit hashes or issue numbers in docs/*.md and README.md (CHANGELOG.md has
the history)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# a hex word of commit-hash length with a letter and a digit in it (numbers and words like "feedbac" are not)
HASH = re.compile(r"\b(?=[0-9a-f]*[a-f])(?=[0-9a-f]*[0-9])[0-9a-f]{7,40}\b")
ISSUE = re.compile(r"\b(?:issues?|PR|pull request)\s*#?\d+|(?<![\w&])#\d+\b", re.IGNORECASE)
# the device id every example uses: what firmware/config.device_id makes of the MAC a4:cf:12:b0:c3:d8
EXAMPLE_ID = "a4cf12b0c3d8"


def findings(text: str) -> list[str]:
    found = [m.group() for m in HASH.finditer(text) if m.group() != EXAMPLE_ID]
    return found + [m.group() for m in ISSUE.finditer(text)]


def test_the_checker_sees_hashes_and_issue_numbers() -> None:
    assert findings("fixed in 5d08fb0 (issue 21, see #14); was 92bd120e4") == ["5d08fb0", "92bd120e4", "issue 21",
                                                                             "#14"]
    assert findings("feedback succeeded, 4294967295 counts, colour #4d9221, device a4cf12b0c3d8, &#8203;") == []


def test_docs_and_readme_name_no_commits_or_issues() -> None:
    wrong = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for n, line in enumerate(path.read_text().splitlines(), 1):
            wrong += [f"{path.relative_to(ROOT)}:{n}: {hit}" for hit in findings(line)]
    assert not wrong, "history belongs in CHANGELOG.md:\n" + "\n".join(wrong)
