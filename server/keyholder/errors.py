"""What the key holder says when it refuses: a stable rule name and a message with the fix."""

from __future__ import annotations

from typing import Final

__all__ = ["RULES", "RefusedError"]

# The rule names a refusal can carry; the log and the server's audit use them as they are.
RULES: Final = frozenset({
    "malformed",  # not a grant request at all, or a field of the wrong shape
    "forged",  # not signed by the pinned evidence server key
    "expired",  # the grant's expiry has passed
    "not_yet_valid",  # issued in the future (clocks apart more than the allowed skew)
    "too_long",  # valid for longer than the key holder allows
    "replayed",  # its nonce was used before
    "over_broad",  # too many segments, or one named twice
    "not_in_recording",  # a segment the recording's signed manifest does not name as given
    "header_mismatch",  # the age header sent is not the one the camera signed
    "viewer_key",  # the viewer's public key is not an age recipient
    "no_identity",  # the key holder holds no identity the segment is encrypted to
    "rate_limited",  # too many grants in the last minute
    "log_failed",  # the unlock could not be recorded, so no key leaves
})


class RefusedError(Exception):
    """A grant the key holder will not honour; `rule` is one of RULES."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        assert rule in RULES, rule
        self.rule = rule
        self.message = message

    def to_json(self) -> dict[str, str]:
        return {"rule": self.rule, "message": self.message}
