"""Every service write goes through the one write path (services/commits.py): no other service
module calls a store's apply, so none can commit without the audit record or the hand-over."""

from __future__ import annotations

import re
from pathlib import Path

import maestro_graph.services as services

APPLY = re.compile(r"\.apply\(")


def test_no_service_but_commits_applies_a_change_set() -> None:
    root = Path(services.__file__).parent
    found = [f"{path.name}:{n}: {line.strip()}"
             for path in sorted(root.glob("*.py")) if path.name != "commits.py"
             for n, line in enumerate(path.read_text().splitlines(), 1) if APPLY.search(line)]
    assert found == []
    assert APPLY.search((root / "commits.py").read_text())  # the one place it is called
