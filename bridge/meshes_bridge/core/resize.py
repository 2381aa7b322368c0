"""Resize policy: clamp the embed's content height, apply at most once per frame."""


def _ceil(value: float) -> int:
    whole = int(value)
    return whole + 1 if whole < value else whole


def clamp_height(height: float, low: float, high: "float | None") -> int:
    """Whole CSS pixels within [low, high]; rounding up never clips the content."""
    value = _ceil(height)
    if value < low:
        value = _ceil(low)
    if high is not None and value > high:
        value = int(high)
    return value


class ResizeCoalescer:
    """Keeps only the last height asked for until the next animation frame."""

    def __init__(self) -> None:
        self.pending: int | None = None
        self.frame_requested = False

    def ask(self, height: int) -> bool:
        """Record a height; True when the caller must request a frame."""
        self.pending = height
        if self.frame_requested:
            return False
        self.frame_requested = True
        return True

    def take(self) -> "int | None":
        """The height to apply on this frame (None when nothing is pending)."""
        height = self.pending
        self.pending = None
        self.frame_requested = False
        return height
