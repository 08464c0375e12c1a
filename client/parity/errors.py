"""The one error of the parity suite: the comparison could not be made (exit code 2)."""

from __future__ import annotations


class ParityError(Exception):
    """Parity could not be measured: a side is down, lacks the model, the signatures differ, or
    the inputs do not match the signature. `side` is "A", "B" or None when it concerns both."""

    def __init__(self, message: str, side: str | None = None, url: str | None = None):
        self.message = message
        self.side = side
        self.url = url
        where = ""
        if side:
            where = f"side {side} ({url}): " if url else f"side {side}: "
        super().__init__(where + message)

    def to_dict(self) -> dict:
        return {"side": self.side, "url": self.url, "message": self.message}
