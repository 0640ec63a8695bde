"""The hygiene gate: every text and id a participant sends passes here before it is used.

Pure (no Django): the websocket protocol and the participant forms both call it, so a frame and
a form refuse the same things with the same words. Text is refused, never silently repaired,
except that line endings become "\n".
"""

import unicodedata

# Database ids are signed 64-bit integers; anything larger cannot name a row.
MAX_ID = 2**63 - 1

ALLOWED_CONTROLS = {"\n", "\t"}
# Characters that render as nothing but are not in Unicode's "format" category.
BLANK_LOOKALIKES = {"\u115f", "\u1160", "\u3164", "\uffa0", "\u2800"}


class TextRefused(ValueError):
    """A participant's text that may not be stored; `code` is stable, the message is for them."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def participant_text(text: str) -> str:
    """The text with unified line endings and outer spaces trimmed, or TextRefused."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    if any(_is_surrogate(char) for char in text):
        raise TextRefused("bad_text", "Your text contains a broken character. Please retype it.")
    if any(_is_forbidden_control(char) for char in text):
        raise TextRefused(
            "bad_text", "Your text contains invisible control characters. Please retype it."
        )
    if not is_visible(text):
        raise TextRefused("empty_message", "Please write something before sending.")
    return text


def is_visible(text: str) -> bool:
    """True when something would be seen: not only spaces and zero-width characters."""
    return any(not _is_invisible(char) for char in text)


def bounded_id(value: object) -> int | None:
    """A positive integer that can be a database id (an int or ASCII digits), else None."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 19:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 1 <= value <= MAX_ID else None


def _is_surrogate(char: str) -> bool:
    return "\ud800" <= char <= "\udfff"


def _is_forbidden_control(char: str) -> bool:
    return unicodedata.category(char) == "Cc" and char not in ALLOWED_CONTROLS


def _is_invisible(char: str) -> bool:
    """Spaces, format characters (zero-width, bidi controls), lone combining marks, fillers."""
    return (
        char.isspace()
        or unicodedata.category(char) in ("Cf", "Mn", "Me")
        or char in BLANK_LOOKALIKES
    )
