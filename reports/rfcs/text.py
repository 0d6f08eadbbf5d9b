"""An RFC's plain text without the layout of the page: paragraphs, each in the section it belongs to.

The RFC Editor's ``.txt`` format adds what a reader skips: page footers (``Narten, et al.
Standards Track [Page 5]``), form feeds and page headers (``RFC 4861  Neighbor Discovery in
IPv6  September 2007``), line breaks inside paragraphs, and indentation, and
hyphens where a line breaks a hyphenated word. Bullet glyphs stay (they are the RFC's text),
but their offsets are kept so a quote may leave them out. RFCXML v3 publications (8981, 9777) start with
a UTF-8 byte-order mark and have no pages at all. ``normalise`` removes that layout and keeps,
for every paragraph, the section it is in, so a quote can be checked against the section a
test names and every normative sentence can be keyed by its section.

Sections are found from their headings: a numbered heading at the left margin
(``7.2.3.  Receipt of Neighbor Solicitations``, ``A.1.  ...``, ``Appendix B.  ...``); an
indented numbered heading that the Table of Contents lists (RFC 791's centred ``1.  INTRODUCTION``,
RFC 1122's ``3.2.1.3  Addressing: ...``); and an unnumbered heading at the left margin in a
document whose prose is indented (RFC 792's ``Echo or Echo Reply Message``, ``Abstract``) or
that is underlined (RFC 768's ``Fields``, RFC 826's ``Packet Reception:``).
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Final

FOOTER: Final = re.compile(r"\[page\s+[0-9ivxlc]+\]", re.IGNORECASE)
_YEAR: Final = re.compile(r"\b(19|20)\d\d\b|\bRFC\s?\d+")
_NUMBER: Final = r"(?:\d+(?:\.\d+)*|[A-Z](?:\.\d+)+|[A-Z](?=\.))"
HEADING: Final = re.compile(rf"^(?P<indent> *)(?:Appendix\s+)?(?P<num>{_NUMBER})\.?(?:\s+|$)(?P<title>\S.*)?$")
APPENDIX: Final = re.compile(r"^(?P<indent> *)(?i:appendix)\s+(?P<num>[A-Z])(?:[.:]|\s+-)?\s+(?P<title>\S.*)$")
LEADERS: Final = re.compile(r"\.{3,}\s*[0-9ivxlc]+\s*$")
TOC_ENTRY: Final = re.compile(rf"^\s*(?:Appendix\s+)?(?P<num>{_NUMBER})\.?\s+(?P<title>.+?)\s*\.{{2,}}\s*[0-9ivxlc]+\s*$")
UNDERLINE: Final = re.compile(r"^\s*(-{3,}|={3,})\s*$")
BULLET: Final = re.compile(r"^(?P<indent> *)(?P<glyph>[o*+\-•])(?P<gap> +)(?=\S)")
ENUMERATOR: Final = re.compile(r"^ *(\(?[0-9]{1,2}[.)]|\(?[a-zA-Z][.)]|\([ivx]{1,4}\)|[ivx]{1,4}\.)\s+\S")
# A line of a figure: packet diagrams, tables drawn with + - | , bit rulers.
_ART: Final = re.compile(r"(\+-|-\+|^\s*\||\|\s*$|\s\|\s|^\s*\+\s*$|^\s*(\d\s){6,})")


@dataclass(frozen=True, slots=True)
class Section:
    """One heading and the text under it, up to the next heading of any level."""

    name: str  # "7.2.3", "A.1", or an unnumbered heading's words ("Echo or Echo Reply Message")
    title: str  # the heading's words after the number
    start: int  # offset in RFCText.text of the heading paragraph
    end: int  # offset where the next heading begins
    line: int  # line number of the heading in the file (1-based)

    @property
    def numbered(self) -> bool:
        return bool(re.fullmatch(_NUMBER, self.name))

    def contains(self, other: Section) -> bool:
        """``other`` is this section or one of its subsections ("7.2" contains "7.2.3")."""
        return other.name == self.name or (self.numbered and other.name.startswith(self.name + "."))


@dataclass(frozen=True, slots=True)
class Paragraph:
    start: int  # offsets in RFCText.text
    end: int
    indent: int  # columns of its first line
    line: int  # its first line in the file (1-based)
    kind: str  # "text", "heading", "figure", "table" or "label" (the words above an indented text)
    bullet: bool = False  # a list item that starts with a bullet glyph
    lines: tuple[int, ...] = ()  # of a table: where each of its lines begins (offsets)


@dataclass(frozen=True)
class RFCText:
    """An RFC's text as paragraphs (joined by "\\n", each on one line) and its sections."""

    number: int
    text: str
    paragraphs: tuple[Paragraph, ...]
    sections: tuple[Section, ...]
    soft_hyphens: frozenset[int]  # offsets of hyphens that ended a line in the file
    bullets: frozenset[int]  # offsets of the list bullets ("o", "-", "*") and the space after them

    def section_at(self, offset: int) -> Section | None:
        """The innermost section holding ``offset``; None before the first heading."""
        starts = [s.start for s in self.sections]
        i = bisect.bisect_right(starts, offset) - 1
        return self.sections[i] if i >= 0 else None

    def find_section(self, name: str) -> Section | None:
        """The section a citation names: by number ("7.2.3", "7.2.3.") or by heading words."""
        key = _section_key(name)
        for s in self.sections:
            if _section_key(s.name) == key or (not s.numbered and _section_key(s.title) == key):
                return s
        return None

    def span(self, section: Section) -> tuple[int, int]:
        """Offsets covered by ``section`` and its subsections."""
        end = section.end
        for s in self.sections:
            if s.start >= section.end and section.contains(s):
                end = s.end
            elif s.start >= section.end:
                break
        return section.start, end

    def paragraph_at(self, offset: int) -> Paragraph:
        starts = [p.start for p in self.paragraphs]
        return self.paragraphs[max(0, bisect.bisect_right(starts, offset) - 1)]


def _section_key(name: str) -> str:
    return " ".join(name.lower().rstrip(":.").replace("section", "").split())


def load(path: Path, number: int | None = None) -> RFCText:
    """Read and normalise ``rfcNNNN.txt``."""
    if number is None:
        found = re.search(r"(\d+)", path.stem)
        number = int(found.group(1)) if found else 0
    return normalise(path.read_bytes().decode("utf-8"), number)


# ---- page furniture --------------------------------------------------------------------------


def _pages(raw: str) -> list[list[tuple[int, str]]]:
    """The file split at form feeds into pages of (line number, line), tabs expanded."""
    pages: list[list[tuple[int, str]]] = [[]]
    for n, line in enumerate(raw.removeprefix("\ufeff").split("\n"), 1):
        parts = line.split("\f")
        for i, part in enumerate(parts):
            if i > 0:
                pages.append([])
            if part.strip() or i == 0:
                pages[-1].append((n, part.expandtabs(8).rstrip()))
    return pages


def _strip_page(page: list[tuple[int, str]], first: bool, paginated: bool) -> list[tuple[int, str]]:
    lines = list(page)
    if not paginated:
        return lines
    while lines and not lines[-1][1]:
        lines.pop()
    if lines and FOOTER.search(lines[-1][1]):
        lines.pop()
    # A footnote under a rule of underscores at the foot of the page (RFC 1122's "*4.2BSD
    # Unix ...") is not part of the text the page breaks.
    rule = next((k for k, (_, t) in enumerate(lines) if re.fullmatch(r"_{10,}", t.strip())), None)
    if rule is not None and len(lines) - rule <= 8:
        del lines[rule:]
    if not first:
        k = 0
        while k < len(lines) and not lines[k][1]:
            k += 1
        block = k
        while block < len(lines) and lines[block][1]:
            block += 1
        # A running header: at most three lines, the first naming a year or the RFC.
        if k < len(lines) and block - k <= 3 and _YEAR.search(lines[k][1]):
            lines = lines[block:]
    return lines


def _unpaged(raw: str) -> list[tuple[int, str]]:
    """All lines without page furniture; a page break becomes a blank line unless the last line
    of the page ends mid-sentence (no final punctuation), where the paragraph goes on."""
    pages = _pages(raw)
    paginated = any(FOOTER.search(line) for page in pages for _, line in page)
    out: list[tuple[int, str]] = []
    for i, page in enumerate(pages):
        lines = _strip_page(page, i == 0, paginated)
        while lines and not lines[0][1]:
            lines.pop(0)
        while out and not out[-1][1]:
            out.pop()
        if out and lines:
            last, nxt = out[-1][1].rstrip(), lines[0][1]
            # A table row (columns apart by four or more spaces) ends its line by itself.
            continues = (not re.search(r"[.:;!?][\"')\]]*$", last) and not HEADING.match(nxt)
                         and not re.search(r"\S {4,}\S", last)
                         and _indent(nxt) >= _indent(last) and not APPENDIX.match(nxt)
                         and not BULLET.match(nxt) and not _ART.search(last) and not _ART.search(nxt)
                         # a one-line list item ends where the text goes back to its bullet's margin
                         and not (BULLET.match(out[-1][1]) and _indent(nxt) <= _indent(out[-1][1])))
            if not continues:
                out.append((lines[0][0], ""))
        out.extend(lines)
    return out


# ---- headings --------------------------------------------------------------------------------


def _number_key(num: str) -> tuple[tuple[int, int], ...]:
    return tuple((0, int(p)) if p.isdigit() else (1, ord(p)) for p in num.split("."))


def _toc(lines: list[tuple[int, str]]) -> tuple[dict[str, str], set[str]]:
    """Table of Contents entries with dot leaders: number -> first word of the title, and the
    titles of unnumbered entries (RFC 791's ``GLOSSARY``)."""
    entries: dict[str, str] = {}
    unnumbered: set[str] = set()
    for _, line in lines:
        m = TOC_ENTRY.match(line)
        if m:
            entries.setdefault(m.group("num"), m.group("title").split()[0].lower().rstrip(":"))
        elif LEADERS.search(line):
            unnumbered.add(" ".join(LEADERS.sub("", line).split()).lower())
    return entries, unnumbered


def _body_indent(lines: list[tuple[int, str]]) -> int:
    counts = Counter(len(t) - len(t.lstrip()) for _, t in lines if t.strip())
    return counts.most_common(1)[0][0] if counts else 0


def _headings(lines: list[tuple[int, str]]) -> dict[int, tuple[str, str, int]]:
    """Index in ``lines`` -> (section name, title, lines the heading takes)."""
    toc, toc_titles = _toc(lines)
    indented_prose = _body_indent(lines) > 0
    found: dict[int, tuple[str, str, int]] = {}
    last: tuple[tuple[int, int], ...] = ()
    for i, (_, line) in enumerate(lines):
        if not line.strip() or (i > 0 and lines[i - 1][1].strip()) or LEADERS.search(line):
            continue
        following = lines[i + 1][1] if i + 1 < len(lines) else ""
        appendix = APPENDIX.match(line)
        if appendix and (len(appendix.group("indent")) == 0 or appendix.group("num") in toc):
            found[i] = (appendix.group("num"), appendix.group("title").strip(), 1)
            last = _number_key(appendix.group("num"))
            continue
        m = HEADING.match(line)
        if m and m.group("title") is not None and not re.search(r"\S {3,}\S", m.group("title")):
            num, title = m.group("num"), m.group("title").strip()
            indent = len(m.group("indent"))
            listed = toc.get(num) == title.split()[0].lower().rstrip(":.") if title else False
            if (indent == 0 or listed) and _number_key(num) > last and not re.match(r"[a-z]", title):
                # A long title wraps: after a comma, or onto a line aligned with the title.
                wraps = following.strip() and (line.endswith(",") or _indent(following) == m.start("title"))
                found[i] = (num, f"{title} {following.strip()}" if wraps else title, 2 if wraps else 1)
                last = _number_key(num)
                continue
        if line[:1] == " " and " ".join(line.split()).lower() in toc_titles:
            found[i] = (line.strip(), line.strip(), 1)
            continue
        if line[:1] == " " or len(line) > 72 or line.startswith("RFC") or re.search(r"\S {3,}\S", line) or not line[0].isupper():
            continue
        if UNDERLINE.match(following):
            found[i] = (line.strip().rstrip(":"), line.strip().rstrip(":"), 2)
        elif indented_prose and not following.strip() and not re.search(r"[.,;]$", line):
            found[i] = (line.strip().rstrip(":"), line.strip().rstrip(":"), 1)
    return found


# ---- paragraphs ------------------------------------------------------------------------------


def _blocks(lines: list[tuple[int, str]], headings: dict[int, tuple[str, str, int]]
            ) -> list[tuple[str, list[tuple[int, str]], tuple[str, str] | None]]:
    """(kind, lines, heading) runs: a heading, or a block of non-blank lines split at list items."""
    out: list[tuple[str, list[tuple[int, str]], tuple[str, str] | None]] = []
    i = 0
    while i < len(lines):
        if i in headings:
            name, title, taken = headings[i]
            out.append(("heading", lines[i:i + taken], (name, title)))
            i += taken
            continue
        if not lines[i][1].strip():
            i += 1
            continue
        block: list[tuple[int, str]] = []
        while i < len(lines) and lines[i][1].strip() and i not in headings:
            block.append(lines[i])
            i += 1
        if sum(bool(_ART.search(t)) for _, t in block) * 2 >= len(block):
            out.append(("figure", block, None))
            continue
        label = _is_label(block)
        for k, part in enumerate(_split_items(block)):
            out.append(("label" if k == 0 and label else "table" if _is_table(part) else "text", part, None))
    return out


def _is_table(lines: list[tuple[int, str]]) -> bool:
    """Three or more short or columned lines, none ending like a sentence: a list of values
    (RFC 791's "111 - Network Control"), read line by line, never run on into the next paragraph."""
    return len(lines) >= 3 and all((len(t.strip()) <= 40 or re.search(r"\S {4,}\S", t.strip()))
                                   and not re.search(r"[.,;:]$", t.strip()) for _, t in lines)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _is_label(block: list[tuple[int, str]], standalone: bool = False) -> bool:
    """A block whose first line is a label for the text indented below it ("Target Address"),
    or (``standalone``) a one-line block that is a label for the paragraphs below it
    ("Description"): a few words without final punctuation, and not a list item."""
    if len(block) < 2:
        return False
    head, nxt = block[0][1], block[1][1]
    if standalone:  # "(b)  Stream Identifier Option" labels the paragraphs below it too
        head = re.sub(r"^ *\(?[0-9a-z]{1,3}[.)] +", "", head)
    return ((standalone or _indent(nxt) > _indent(head) + 1) and len(head.split()) <= 4 and len(head.strip()) <= 32
            and head.strip()[:1].isupper()
            and not re.search(r"[.:;,!?]$", head) and not BULLET.match(head)
            and (standalone or not ENUMERATOR.match(head)))


def _split_items(block: list[tuple[int, str]]) -> list[list[tuple[int, str]]]:
    """A block of lines split where a list item starts: a bullet, or an enumerator at the
    block's own indentation."""
    parts: list[list[tuple[int, str]]] = [[block[0]]]
    first = _indent(block[0][1])
    if _is_label(block):
        parts.append([])
        first = _indent(block[1][1])
    for prev, cur in pairwise(block):
        if not parts[-1]:
            parts[-1].append(cur)
            continue
        text = cur[1]
        bullet = BULLET.match(text)
        starts = ((bullet is not None and _indent(text) <= _indent(prev[1]))
                  or (ENUMERATOR.match(text) is not None and _indent(text) <= first)
                  # back at the block's margin after an indented text: the next definition
                  or _indent(prev[1]) > _indent(text) <= first)
        if starts:
            parts.append([cur])
        else:
            parts[-1].append(cur)
    return parts


def normalise(raw: str, number: int = 0) -> RFCText:
    """The RFC's paragraphs, one per line of ``text``, without the layout of the printed page."""
    lines = _unpaged(raw)
    headings = _headings(lines)
    text: list[str] = []
    soft: set[int] = set()
    bullets: set[int] = set()
    paragraphs: list[Paragraph] = []
    sections: list[tuple[str, str, int, int]] = []  # name, title, start, line
    offset = 0
    for kind, block, heading in _blocks(lines, headings):
        bullet = False
        words: list[str] = []
        for j, (_, line) in enumerate(block):
            piece = line.strip() if kind == "figure" else " ".join(line.split())
            if kind == "heading" and UNDERLINE.match(piece):
                continue
            if j == 0 and kind == "text" and BULLET.match(line):
                bullet = True
            words.append(piece)
        joined = ""
        line_starts: list[int] = []
        for piece in words:
            if not joined:
                joined = piece
            elif kind not in ("figure", "table") and re.search(r"[A-Za-z]-$", joined) \
                    and re.match(r"[A-Za-z0-9]", piece):
                soft.add(offset + len(joined) - 1)
                joined += piece
                continue
            else:
                joined += " " + piece
            line_starts.append(offset + len(joined) - len(piece))
        start = offset
        if bullet:
            bullets.update((start, start + 1))
        if kind == "text" and len(block) == 1 and _is_label([block[0], block[0]], standalone=True):
            kind = "label"
        paragraphs.append(Paragraph(start, start + len(joined), _indent(block[0][1]), block[0][0], kind, bullet,
                                    tuple(line_starts) if kind == "table" else ()))
        if heading is not None:
            sections.append((heading[0], heading[1], start, block[0][0]))
        text.append(joined)
        offset += len(joined) + 1
    body = "\n".join(text)
    secs = tuple(Section(name, title, start, sections[k + 1][2] if k + 1 < len(sections) else len(body), line)
                 for k, (name, title, start, line) in enumerate(sections))
    return RFCText(number, body, tuple(paragraphs), secs, frozenset(soft), frozenset(bullets))
