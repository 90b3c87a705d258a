"""Read one sample from a Prometheus exposition (what a process serves on /metrics)."""

import re


def sample(exposition: str, name: str) -> float:
    """The value of the sample named exactly `name` (labels included, as exposed), 0 if absent."""
    found = re.search(rf"^{re.escape(name)} (\S+)$", exposition, re.M)
    return float(found.group(1)) if found else 0.0
