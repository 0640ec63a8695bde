"""Prompt files: loading, versioning, rendering, and fencing participant text as data.

A prompt lives in `prompts/<name>.md` and starts with a header such as `<!-- version: 1 -->`.
Its version is the declared number plus a short hash of the whole file, so an edit that forgets
to bump the number still yields a new version in every LLMCall row.
"""

import functools
import hashlib
import re
import string
import unicodedata
from dataclasses import dataclass
from pathlib import Path

PROMPTS_DIR = Path(__file__).resolve().parent / "prompts"

_NAME = re.compile(r"[a-z][a-z0-9_]*")
_HEADER = re.compile(r"\A<!--\s*version:\s*(\S+?)\s*-->[ \t]*\r?\n")


@dataclass(frozen=True)
class Prompt:
    name: str
    version: str
    template: str


def parse_prompt(name: str, source: str) -> Prompt:
    header = _HEADER.match(source)
    if header is None:
        raise ValueError(f"Prompt {name!r} must start with a '<!-- version: N -->' line.")
    digest = hashlib.sha256(source.encode()).hexdigest()[:10]
    return Prompt(name=name, version=f"{header[1]}-{digest}", template=source[header.end() :])


@functools.cache
def load_prompt(name: str, directory: Path = PROMPTS_DIR) -> Prompt:
    if not _NAME.fullmatch(name):
        raise ValueError(f"Invalid prompt name {name!r}: use lowercase letters, digits and _.")
    return parse_prompt(name, (directory / f"{name}.md").read_text(encoding="utf-8"))


def render(name: str, /, **values: str) -> tuple[str, Prompt]:
    """Fill the prompt's `$placeholders`; every placeholder must be given a value."""
    return render_from(PROMPTS_DIR, name, **values)


def render_from(directory: Path, name: str, /, **values: str) -> tuple[str, Prompt]:
    """`render` for another app's prompt folder."""
    prompt = load_prompt(name, directory)
    try:
        return string.Template(prompt.template).substitute(values), prompt
    except KeyError as missing:
        raise KeyError(
            f"Prompt {name!r} needs a value for ${missing.args[0]}; got {sorted(values)}."
        ) from None


def fence(text: str, label: str = "participant") -> str:
    """Wrap untrusted text in `<label_text>` tags the text itself cannot open or close.

    The text is NFKC-normalised (full-width and compatibility forms become their plain letters),
    then every `<` and every character that looks like one (angle quotation marks, angle
    brackets, arrowheads) becomes a character reference. With no bracket left, no spelling of a
    tag, whatever letters it uses, can end the fence early.
    """
    if not _NAME.fullmatch(label):
        raise ValueError(f"Invalid fence label {label!r}.")
    tag = f"{label}_text"
    neutralised = "".join(_as_data(char) for char in unicodedata.normalize("NFKC", text))
    return f"<{tag}>\n{neutralised}\n</{tag}>"


def _as_data(char: str) -> str:
    if char == "<":
        return "&lt;"
    return f"&#x{ord(char):x};" if _looks_like_an_opening_bracket(char) else char


@functools.cache
def _looks_like_an_opening_bracket(char: str) -> bool:
    name = unicodedata.name(char, "")
    return char in BRACKET_LOOKALIKES or any(word in name for word in BRACKET_NAME_WORDS)


# Found by name: LESS-THAN SIGN and its variants, LEFT-POINTING ANGLE quotation marks and
# ornaments, LEFT ANGLE BRACKETs, LEFT ARROWHEADs; and by eye, letters shaped like `<`.
BRACKET_NAME_WORDS = ("LESS-THAN", "LEFT-POINTING ANGLE", "LEFT ANGLE", "LEFT ARROWHEAD")
BRACKET_LOOKALIKES = frozenset("\u1438\u16b2\u02c2\u02f1\u276c\u276e\u2770\u27ea\u300a")
