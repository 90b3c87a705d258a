"""The one backoff of the consumers: full jitter (AWS), with an optional floor."""

import random


def jitter(base: float, cap: float, attempt: int, floor: float = 0.0) -> float:
    """uniform(0, min(cap, base * 2^attempt)), at least `floor`."""
    return max(floor, random.uniform(0, min(cap, base * 2**attempt)))
