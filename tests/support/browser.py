"""What the real-browser tests (node scripts in e2e/ driving Chromium) need, defined once:
the executables, and skip marks that say which set-up step is missing."""

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
NODE = shutil.which("node")
TRACKER_BUILD = REPO / "tracker" / "dist" / "footfall.min.js"


def e2e_marks(*extra: pytest.MarkDecorator) -> list[pytest.MarkDecorator]:
    """Skip when node, Chromium or e2e's playwright-core is missing; `extra` adds a module's own
    prerequisites (see `needs_tracker_build`)."""
    return [
        pytest.mark.skipif(NODE is None, reason="node is not installed (needed for e2e/)"),
        pytest.mark.skipif(
            not os.access(CHROMIUM, os.X_OK),
            reason=f"{CHROMIUM} is missing (scripts/bootstrap: apt-get install chromium, as root)",
        ),
        pytest.mark.skipif(
            not (REPO / "e2e" / "node_modules" / "playwright-core").is_dir(),
            reason="e2e/node_modules is missing: npm ci --prefix e2e (scripts/bootstrap does it)",
        ),
        *extra,
    ]


needs_tracker_build = pytest.mark.skipif(
    not TRACKER_BUILD.is_file(),
    reason="the tracker is not built: npm run build --prefix tracker (scripts/bootstrap)",
)
