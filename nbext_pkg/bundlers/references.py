"""The local files a notebook refers to: a plain nbformat-4 dict in, references out.

Pure on purpose (standard library only) so the rules can be tested without a server:
markdown links and images, HTML src/href, the stock bundler's ``<!--associate:`` lists
and the ``nbext_pkg.include`` / ``nbext_pkg.exclude`` metadata globs.
"""

from __future__ import annotations

import bisect
import html
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import unquote

SOURCES = ("markdown", "html", "associate", "include")
ASSOCIATE_MARKER = "<!--associate:"
# The notebook server's own routes that name a file below the root.
SERVER_ROUTES = ("files/", "tree/", "notebooks/", "view/", "edit/")
# Tag -> the attributes by which it loads or links a file. Besides these, a ``style``
# attribute on any tag and the text of a <style> element hold CSS, whose url(...) count.
HTML_ATTRIBUTES = {
    "img": ("src", "srcset"),
    "source": ("src", "srcset"),
    "a": ("href",),
    "link": ("href",),
    "video": ("src", "poster"),
    "audio": ("src",),
    "script": ("src",),
    "track": ("src",),
    "iframe": ("src",),
    "embed": ("src",),
    "object": ("data",),
    "image": ("href", "xlink:href"),  # SVG
}
_SRCSET = frozenset({"srcset"})

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})(.*)")
# Raw HTML as CommonMark reads it inline, a tag or closing tag (the rest is found apart),
# and its autolinks. Every repetition is bounded, so each "<" costs little however the
# text goes on.
_HTML_TAG = re.compile(
    r"<[A-Za-z][A-Za-z0-9-]{0,64}"
    r"""(?:\s{1,64}[A-Za-z_:][A-Za-z0-9_.:-]{0,64}(?:\s*=\s*(?:[^\s"'=<>`]{1,2048}|'[^']{0,2048}'|"[^"]{0,2048}"))?){0,256}"""
    r"\s*/?>"
    r"|</[A-Za-z][A-Za-z0-9-]{0,64}\s*>"
)
_AUTOLINK = re.compile(
    r"<[A-Za-z][A-Za-z0-9+.-]{1,31}:[^\s<>]{0,4096}>"
    r"|<[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,256}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?){0,64}>"
)
# The lines that end a paragraph, by CommonMark: a blank line, and the blocks that may
# interrupt one (quote, heading (without a space after "#", as Jupyter's renderers take
# it), rule, setext underline, a list item that is not empty and, if ordered, starts at 1,
# an HTML block of the first six kinds).
_BLOCK_TAGS = (
    "address|article|aside|base|basefont|blockquote|body|caption|center|col|colgroup|dd|details|"
    "dialog|dir|div|dl|dt|fieldset|figcaption|figure|footer|form|frame|frameset|h[1-6]|head|"
    "header|hr|html|iframe|legend|li|link|main|menu|menuitem|nav|noframes|ol|optgroup|option|p|"
    "param|search|section|summary|table|tbody|td|tfoot|th|thead|title|tr|track|ul"
)
_BLOCK_START = re.compile(
    r"^(?:[ \t]*$| {0,3}(?:>|#{1,6}(?!#)|([-*_])(?:[ \t]*\1){2,}[ \t]*$|=+[ \t]*$|-+[ \t]*$"
    r"|[-+*][ \t]+\S|1[.)][ \t]+\S"
    r"|<(?:pre|script|style|textarea)(?:[\s>]|$)|<!--|<\?|<![A-Za-z]|<!\[CDATA\["
    rf"|</?(?:{_BLOCK_TAGS})(?:[\s>]|/>|$)))",
    re.MULTILINE | re.IGNORECASE,
)
# A line after which no paragraph goes on: blank, an empty quote line, a heading, a rule.
_NO_PARAGRAPH = re.compile(r"[ \t]*| {0,3}(?:>[ \t>]*|#{1,6}(?!#).*|([-*_])(?:[ \t]*\1){2,}[ \t]*)")
_HEADING = re.compile(r"^ {0,3}#{1,6}(?!#).*$", re.MULTILINE)
# The ">" markers that open the lines of a block quote (nested ones too).
_QUOTE_MARKERS = re.compile(r"^(?: {0,3}> ?)+", re.MULTILINE)
_DEFINITION = re.compile(
    r"^ {0,3}\[(?!\^)((?:[^\[\]\\]|\\.){1,999})\]:[ \t]*\n?[ \t]*(<[^<>\n]*>|\S+)", re.MULTILINE
)
# A definition's title, on its line or the next, when nothing but blanks follows it there
# (titles that run over several lines are left as text).
_DEFINITION_TITLE = re.compile(
    r"""(?:[ \t]+|[ \t]*\n[ \t]*)(?:"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|\((?:[^()\\\n]|\\.)*\))"""
    r"[ \t]*(?=\n|$)"
)
_ANGLE = re.compile(r"<([^<>\s]+)>")
# Angle-bracket text that is an HTML tag (<br>, <br/>, </div>) or an e-mail autolink.
_TAG_LIKE = re.compile(r"/?[A-Za-z][A-Za-z0-9-]*/?")
_EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*")
_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")


@dataclass(frozen=True)
class Reference:
    """One local reference; `path` is relative to the notebook's folder or to the root."""

    written: str
    path: str
    root_relative: bool
    source: str


def find_references(notebook: dict, base_url: str = "/") -> list[Reference]:
    """Every local reference of `notebook`, first occurrence of each path kept, in order."""
    base_raw = "/" + base_url.strip("/") + "/" if base_url.strip("/") else "/"
    bases = (base_raw, unquote(base_raw))
    found: list[Reference] = []
    seen: set[tuple[str, bool]] = set()

    def add(written: str, source: str, decode: bool = True) -> None:
        if not decode:
            target = _plain_path(written)
        elif source == "markdown":
            target = _normalise(_markdown_destination(_unbracketed(written)), bases)
        else:
            target = _normalise(written, bases)
        if target is not None and target not in seen:
            seen.add(target)
            found.append(Reference(written.strip(), target[0], target[1], source))

    for cell in _cells(notebook):
        kind = cell.get("cell_type")
        if kind == "markdown":
            text = _text(cell.get("source"))
            for entry in _associate(text)[0]:
                add(entry, "associate", decode=False)
            for written, source in _markdown_references(text):
                add(written, source)
        elif kind == "code":
            for output in _list(cell.get("outputs")):
                data = output.get("data") if isinstance(output, dict) else None
                if isinstance(data, dict) and "text/html" in data:
                    for written in _html_references(_text(data["text/html"])):
                        add(written, "html")
    for pattern in _metadata_globs(notebook, "include"):
        add(pattern, "include", decode=False)
    return found


def excludes(notebook: dict) -> list[str]:
    """Glob patterns to leave out: metadata ``nbext_pkg.exclude`` plus associate ``!`` lines."""
    patterns = _metadata_globs(notebook, "exclude")
    for cell in _cells(notebook):
        if cell.get("cell_type") == "markdown":
            patterns.extend(_associate(_text(cell.get("source")))[1])
    return list(dict.fromkeys(patterns))


# --- notebook structure: tolerate anything JSON can hold -------------------------------


def _list(value) -> list:
    return value if isinstance(value, list) else []


def _cells(notebook) -> list[dict]:
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    return [cell for cell in _list(cells) if isinstance(cell, dict)]


def _text(value) -> str:
    """nbformat multiline strings are a str or a list of str."""
    if isinstance(value, str):
        return value
    return "".join(part for part in _list(value) if isinstance(part, str))


def _metadata_globs(notebook, key: str) -> list[str]:
    metadata = notebook.get("metadata") if isinstance(notebook, dict) else None
    ours = metadata.get("nbext_pkg") if isinstance(metadata, dict) else None
    value = ours.get(key) if isinstance(ours, dict) else None
    # A lone string is taken as a one-pattern list: an easy slip when editing metadata by hand.
    values = [value] if isinstance(value, str) else _list(value)
    return [item.strip() for item in values if isinstance(item, str) and item.strip()]


def _associate(text: str) -> tuple[list[str], list[str]]:
    """Paths and ``!`` negations of an associate comment that opens the cell, one per line.

    Like the stock zip bundler: the marker must start the cell, ``#`` lines are comments and
    the list ends at ``-->``. Unlike it, ``../`` lines are kept so the resolver reports them.
    """
    if not text.startswith(ASSOCIATE_MARKER):
        return [], []
    paths: list[str] = []
    negations: list[str] = []
    for line in text[len(ASSOCIATE_MARKER) :].splitlines():
        end = line.find("-->")
        entry = (line if end < 0 else line[:end]).strip()
        if entry and not entry.startswith("#"):
            if entry.startswith("!"):
                if entry[1:].strip():
                    negations.append(entry[1:].strip())
            else:
                paths.append(entry)
        if end >= 0:
            break
    return paths, negations


# --- normalisation ---------------------------------------------------------------------


def _is_remote(text: str) -> bool:
    """A URL scheme or a protocol-relative ``//host`` (browsers read ``\\`` as ``/`` there)."""
    return bool(_SCHEME.match(text)) or (len(text) > 1 and set(text[:2]) <= {"/", "\\"})


def _plain_path(written: str) -> tuple[str, bool] | None:
    """Associate and include entries are file paths or globs, not URLs: no decoding."""
    path = written.strip()
    if not path or _is_remote(path):
        return None
    return path, False


def _normalise(written: str, bases: tuple[str, str]) -> tuple[str, bool] | None:
    """(path, root_relative) of a link as a browser would fetch it, or None if not local."""
    raw = written.strip()
    if _is_remote(raw):
        return None
    # Cut the fragment and query before decoding so an encoded %23 or %3F stays in the name.
    raw = raw.split("#", 1)[0].split("?", 1)[0]
    if not raw:
        return None
    path = unquote(raw)
    if not path.startswith("/"):
        return path, False
    for base, candidate, decode_rest in ((bases[0], raw, True), (bases[1], path, False)):
        if candidate.startswith(base):
            rest = candidate[len(base) :]
            for route in SERVER_ROUTES:
                if rest.startswith(route):
                    inner = unquote(rest[len(route) :]) if decode_rest else rest[len(route) :]
                    # "/tree/" alone would mean the whole server: not a file reference.
                    return (inner, True) if inner else None
    # Any other absolute path is kept as written; the resolver refuses it.
    return path, False


# --- markdown ----------------------------------------------------------------------------


def _blank(chars: list[str], start: int, end: int) -> None:
    """Overwrite a span with spaces, keeping newlines so offsets and line numbers hold."""
    for i in range(start, end):
        if chars[i] != "\n":
            chars[i] = " "


def _without_code(text: str) -> tuple[str, str, list[int], list[tuple[int, str]]]:
    """`text` with fenced blocks, code spans and HTML comments blanked out; `text` with
    fenced blocks only blanked; where its paragraphs end (_paragraph_ends); and its inline
    links and link definitions outside code: (offset, destination as written).

    A destination is read before code spans are: a backtick in it is part of the name.
    """
    chars = list(text)
    offset = 0
    fence = ""
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        if fence:
            closing = body.strip()
            if closing.startswith(fence) and closing == fence[0] * len(closing):
                fence = ""
            _blank(chars, offset, offset + len(line))
        else:
            match = _FENCE.fullmatch(body)
            if match and not (match.group(1)[0] == "`" and "`" in match.group(2)):
                fence = match.group(1)
                _blank(chars, offset, offset + len(line))
        offset += len(line)
    blocks: list[tuple[int, str]] = []  # definitions that are blocks of their own
    found: list[tuple[int, int, str]] = []  # (offset of the "[" or "](", of the destination, it)
    fenced = "".join(chars)
    block_end = -1  # the end of the line on which the last of those ends
    for match in _DEFINITION.finditer(fenced):
        start = match.start()  # a line's
        previous = fenced[fenced.rfind("\n", 0, max(start - 1, 0)) + 1 : max(start - 1, 0)]
        opens_block = start == 0 or _NO_PARAGRAPH.fullmatch(previous) or start - 1 == block_end
        if opens_block and _balanced(match.group(2)):
            # Not inside a paragraph (a definition cannot interrupt one): read before the
            # inlines, and a backtick in it opens no span.
            blocks.append((match.start(2), match.group(2)))
            title = _DEFINITION_TITLE.match(fenced, match.end())
            end = title.end() if title else match.end()
            block_end = fenced.find("\n", end)
            block_end = len(fenced) if block_end < 0 else block_end
            _blank(chars, start, end)  # a backtick in it, title included, opens no span
        else:  # in a paragraph: text, unless a renderer differs; read it anyway
            found.append((match.start(1) - 1, match.start(2), match.group(2)))
    # The text as a quote's own lines read, without their markers (the same offsets).
    unquoted = _QUOTE_MARKERS.sub(_spaces, "".join(chars))
    # Definitions inside a quote, read as text (so no span is changed by them).
    found.extend(
        (match.start(1) - 1, match.start(2), match.group(2))
        for match in _DEFINITION.finditer(unquoted)
        if unquoted[match.start() : match.start(1)] != fenced[match.start() : match.start(1)]
    )
    breaks = _paragraph_ends("".join(chars), unquoted)
    found.extend((start, start, written) for start, written in _code_spans_and_links(chars, unquoted, breaks))
    _blank_comments(chars, breaks)
    # A definition or link whose bracket a code span or an HTML comment holds is none.
    kept = [(offset, written) for bracket, offset, written in found if chars[bracket] != " "]
    return "".join(chars), fenced, breaks, blocks + kept


def _balanced(destination: str) -> bool:
    """Whether a bare destination's unescaped parentheses pair up, as CommonMark asks."""
    if destination.startswith("<"):
        return True
    depth = 0
    for char in _ESCAPED.sub("", destination):
        depth += (char == "(") - (char == ")")
        if depth < 0:
            return False
    return depth == 0


def _blank_comments(chars: list[str], breaks: list[int]) -> None:
    """Blank each ``<!-- ... -->``. To CommonMark an opener is text when no ``-->`` closes
    it, or, unless it opens a line (an HTML block, which may hold blank lines), none does
    before its paragraph ends: then only it is blanked, so that html.parser does not read
    the rest of the cell as a comment."""
    text = "".join(chars)
    closes = [m.end() for m in re.finditer("-->", text)]
    newlines = [m.start() for m in re.finditer("\n", text)]
    start = text.find("<!--")
    while start >= 0:
        later = bisect.bisect_left(closes, start + 7)  # a "-->" after the "<!--"
        end = closes[later] if later < len(closes) else -1
        line = bisect.bisect_left(newlines, start)
        line_start = newlines[line - 1] + 1 if line else 0
        opens_line = start - line_start <= 3 and not text[line_start:start].strip(" ")
        if _escaped(text, start) or end < 0 or (not opens_line and end > _next(breaks, start, len(text))):
            _blank(chars, start, start + 4)
            start = text.find("<!--", start + 4)
        else:
            _blank(chars, start, end)
            start = text.find("<!--", end)


def _literal_end(text: str, start: int, closers: dict[str, list[int]], paragraph_end: int) -> int:
    """Past the tag, autolink, comment, processing instruction, CDATA section or declaration
    that opens at `start` and ends in its paragraph; `start` if none does. `closers` holds
    where each of "-->", "?>", "]]>" and ">" ends in `text`, so no "<" rescans the rest."""

    def past(marker: str, after: int) -> int:
        ends = closers[marker]
        i = bisect.bisect_left(ends, after + len(marker))
        return ends[i] if i < len(ends) else start

    if text.startswith(("<!-->", "<!--->"), start):
        end = start + (5 if text[start + 4] == ">" else 6)
    elif text.startswith("<!--", start):
        end = past("-->", start + 4)
    elif text.startswith("<?", start):
        end = past("?>", start + 2)
    elif text.startswith("<![CDATA[", start):
        end = past("]]>", start + 9)
    elif (
        text.startswith("<!", start)
        and start + 2 < len(text)
        and text[start + 2].isascii()
        and text[start + 2].isalpha()
    ):
        end = past(">", start + 2)
    else:
        match = _HTML_TAG.match(text, start) or _AUTOLINK.match(text, start)
        end = match.end() if match else start
    return end if end <= paragraph_end else start


def _closers(text: str) -> dict[str, list[int]]:
    """Where each "-->", "?>", "]]>" and ">" of `text` ends, in order: for _literal_end."""
    return {
        marker: [m.end() for m in re.finditer(re.escape(marker), text)]
        for marker in ("-->", "?>", "]]>", ">")
    }


def _paragraph_ends(text: str, unquoted: str) -> list[int]:
    """The offsets of the lines that end a paragraph, in order: by _BLOCK_START in
    `unquoted` (`text` with quote markers as spaces), and where a quote begins."""
    ends = {m.start() for m in _BLOCK_START.finditer(unquoted)}
    ends.update(m.end() + 1 for m in _HEADING.finditer(unquoted))  # a heading is one line
    quoted = [m.start() for m in _QUOTE_MARKERS.finditer(text)]
    quoted_lines = set(quoted)
    for start in quoted:
        if start == 0 or text.rfind("\n", 0, start - 1) + 1 not in quoted_lines:
            ends.add(start)
    return sorted(ends)


def _next(offsets: list[int], after: int, default: int) -> int:
    """The first of the sorted `offsets` past `after`, else `default`."""
    i = bisect.bisect_right(offsets, after)
    return offsets[i] if i < len(offsets) else default


def _code_spans_and_links(chars: list[str], unquoted: str, breaks: list[int]) -> list[tuple[int, str]]:
    """Blank the code spans and return the inline links, read left to right as CommonMark
    does: a run of n backticks opens a span closed by the next run of exactly n backticks
    in the same paragraph, unless it is escaped, or lies in an HTML tag or autolink, or in
    the destination or title of a link whose ``](`` came first.

    Blocks other than fenced code are not parsed: a paragraph is taken to end where a line
    could start another block, and a quote's text is read with its markers as spaces.
    """
    text = unquoted  # what is read; the spans are blanked in chars
    runs = [(m.start(), m.end()) for m in re.finditer(r"`+", text)]
    by_length: dict[int, list[int]] = {}
    for start, end in runs:
        by_length.setdefault(end - start, []).append(start)
    brackets = [(m.start(), -1) for m in re.finditer(re.escape("]("), text)]
    tags = [(m.start(), -2) for m in re.finditer("<", text)]
    closers = _closers(text)
    ends = _destination_ends(text) if brackets else ([], [], [])
    links: list[tuple[int, str]] = []
    position = 0  # past the last code span or link
    literal = 0  # past the last tag: no span opens before it
    for start, end in sorted(runs + brackets + tags):
        if start < position:
            continue
        escaped = _escaped(chars, start)
        if end == -2:  # a "<": raw HTML, an autolink or a comment, in which no span opens
            if not escaped:
                literal = max(literal, _literal_end(text, start, closers, _next(breaks, start, len(text))))
            continue
        if end == -1:  # a "](": a link if it is not escaped and what follows reads as one
            link = None if escaped else _link_destination(text, start + 2, ends)
            if link is not None:
                written, position = link
                if written:
                    links.append((start, written))
            continue
        opener = start + escaped  # an escaped backtick is a character, not part of the run
        if opener < literal or opener == end:
            continue
        starts = by_length.get(end - opener, [])
        later = bisect.bisect_right(starts, opener)
        if later < len(starts) and starts[later] < _next(breaks, opener, len(text)):
            close = starts[later] + (end - opener)
            _blank(chars, opener, close)
            position = close
    return links


def _skip_blank(text: str, i: int) -> int:
    """Past spaces and tabs with at most one line ending among them."""
    newline = False
    while i < len(text) and text[i] in " \t\n":
        if text[i] == "\n":
            if newline:
                break
            newline = True
        i += 1
    return i


def _destination_ends(text: str) -> tuple[list[int], list[int], list[int]]:
    """For each offset, where a link destination starting there would end: bare, and <angled>;
    and the depth of parentheses there (a bare destination must end as deep as it began).

    A bare one runs to whitespace or to its first unbalanced ``)``; an angled one to the next
    ``<``, ``>`` or line end. Working this out once per cell keeps a cell full of ``](``
    linear instead of rescanning the rest of it for each.
    """
    n = len(text)
    depth = [0] * (n + 1)
    escaped = [False] * (n + 1)
    i = 0
    while i < n:
        if text[i] == "\\" and i + 1 < n and not text[i + 1].isspace():
            # The escaped character counts as neither opening nor closing, nor ends an
            # angled destination.
            depth[i + 1] = depth[i + 2] = depth[i]
            escaped[i + 1] = True
            i += 2
            continue
        depth[i + 1] = depth[i] + (text[i] == "(") - (text[i] == ")")
        i += 1
    ends = [n] * (n + 1)
    angled = [n] * (n + 1)
    space = stop = n
    lower: list[int] = []  # later offsets of strictly rising depth: the next drop is on top
    for i in range(n, -1, -1):
        while lower and depth[lower[-1]] >= depth[i]:
            lower.pop()
        if i < n and text[i].isspace():
            space = i
        if i < n and text[i] in "<>\n" and not escaped[i]:
            stop = i
        angled[i] = stop
        ends[i] = min(space, lower[-1] - 1 if lower else n)
        lower.append(i)
    return ends, angled, depth


def _link_destination(
    text: str, start: int, ends: tuple[list[int], list[int], list[int]]
) -> tuple[str, int] | None:
    """The destination of an inline link whose ``(`` is just before `start`, as written
    ("" for an empty one), and the offset just past the link's ``)``.

    None unless an optional quoted title and the closing ``)`` follow, as CommonMark asks,
    so prose such as ``x](a b c)`` is not mistaken for a link.
    """
    n = len(text)
    begin = _skip_blank(text, start)
    if begin < n and text[begin] == "<":
        close = ends[1][begin + 1]
        if close >= n or text[close] != ">":
            return None
        end = close + 1
    else:
        end = ends[0][begin]
        if ends[2][end] != ends[2][begin]:  # a "(" left open
            return None
    i = _skip_blank(text, end)
    if i < n and i > end and text[i] in "\"'(":
        closer = ")" if text[i] == "(" else text[i]
        close = text.find(closer, i + 1)
        while close > 0 and text[close - 1] == "\\":
            close = text.find(closer, close + 1)
        if close < 0:
            return None
        i = _skip_blank(text, close + 1)
    if i < n and text[i] == ")":
        return text[begin:end], i + 1
    return None


def src_key(src: str) -> str:
    """How an image's address is matched between the plan and the HTML copy: as the
    browser reads it (character references and %-escapes decoded), without its query or
    fragment. A markdown destination goes through ``markdown_src`` first."""
    return unquote(html.unescape(src).split("#")[0].split("?")[0])


def _unbracketed(written: str) -> str:
    """A markdown destination without its ``<angle brackets>``, if it has them."""
    raw = written.strip()
    return raw[1:-1].strip() if raw.startswith("<") and raw.endswith(">") else raw


def markdown_src(written: str) -> str:
    """A markdown destination as it lands in the page's ``src``: without angle brackets
    and backslash escapes."""
    return _ESCAPED.sub(r"\1", _unbracketed(written))


def _markdown_destination(written: str) -> str:
    """Backslash escapes and character references mean the same in a destination."""
    return html.unescape(_ESCAPED.sub(r"\1", written))


def _escaped(text: str | list[str], i: int) -> bool:
    """Whether an odd number of backslashes stands just before offset `i`."""
    escapes = 0
    while escapes < i and text[i - escapes - 1] == "\\":
        escapes += 1
    return escapes % 2 == 1


def _spaces(match: re.Match) -> str:
    return " " * len(match.group(0))


def _tags_only(text: str, breaks: list[int]) -> str:
    """`text` with each ``<`` that opens no tag blanked: markdown passes on as HTML only what
    reads as a tag there, and html.parser would take ``<a`` up to the next ``>`` for one.
    (The ``<`` of a declaration or processing instruction goes too: renderers differ on
    those, and the text after them is read for links either way.)"""
    chars = list(text)
    position = 0
    for match in re.finditer("<", text):
        if match.start() < position:  # quoted in the tag before
            continue
        tag = None if _escaped(text, match.start()) else _HTML_TAG.match(text, match.start())
        if tag and tag.end() <= _next(breaks, match.start(), len(text)):
            position = tag.end()
        else:
            chars[match.start()] = " "
    return "".join(chars)


def _markdown_references(source: str) -> list[tuple[str, str]]:
    """(written, source) of each link in a markdown cell, in order of appearance."""
    text, fenced, breaks, links = _without_code(source)
    hits = [(start, written, "markdown") for start, written in links]
    for match in _ANGLE.finditer(text):
        inner = match.group(1)
        if not (inner[0] in "!?" or _TAG_LIKE.fullmatch(inner) or _EMAIL.fullmatch(inner)):
            hits.append((match.start(), match.group(0), "markdown"))
    # Raw HTML inline is only what reads as tags, inside a quote without its markers; an
    # HTML block goes to the page as it is, code spans and all, and ends where the blocks
    # do. Which a given "<" is in depends on blocks this does not parse: read it all ways.
    inline = _tags_only(_QUOTE_MARKERS.sub(_spaces, text), breaks)
    blocks = [0, *breaks, len(fenced)]
    html_hits = dict.fromkeys(
        _html_hits(inline)
        + _html_hits(fenced)
        + [
            (start + offset, url)
            for start, end in zip(blocks, blocks[1:])
            for offset, url in _html_hits(fenced[start:end])
        ]
    )
    hits.extend((offset, written, "html") for offset, written in html_hits)
    hits.sort(key=lambda hit: hit[0])
    return [(written, source) for _, written, source in hits]


# --- HTML ---------------------------------------------------------------------------------


class _AttributeCollector(HTMLParser):
    """Collects the links of the tags that load or link a file, with their offsets."""

    def __init__(self, line_starts: list[int]) -> None:
        super().__init__(convert_charrefs=True)
        self.line_starts = line_starts
        self.hits: list[tuple[int, str]] = []
        self.in_style = False

    def parse_html_declaration(self, i):
        # html.parser asserts on malformed "<![" and "<!x" markup; read those as text instead.
        try:
            return super().parse_html_declaration(i)
        except AssertionError:
            return i + 2

    def _offset(self) -> int:
        line, column = self.getpos()
        return self.line_starts[min(line, len(self.line_starts)) - 1] + column

    def handle_starttag(self, tag, attrs):
        self.in_style = tag == "style"
        wanted = HTML_ATTRIBUTES.get(tag, ())
        offset = None
        for name, value in attrs:
            if not value or (name not in wanted and name != "style"):
                continue
            offset = self._offset() if offset is None else offset
            if name == "style":
                self.hits.extend((offset, url) for url in _css_urls(value))
            elif name in _SRCSET:
                self.hits.extend((offset, url) for url in _srcset_urls(value))
            else:
                self.hits.append((offset, value))

    def handle_endtag(self, tag):
        self.in_style = False

    def handle_data(self, data):
        if self.in_style:
            offset = self._offset()
            self.hits.extend((offset, url) for url in _css_urls(data))


_CSS_SPACE = " \t\n\r\f"
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def ascii_lower(text: str) -> str:
    """``text`` with A-Z lowered only: ``str.lower`` may change the length ("İ" becomes
    two characters), and offsets found in the copy must hold in the original."""
    return text.translate(_ASCII_LOWER)


def _css_urls(css: str) -> list[str]:
    """The url(...) of a style sheet or style attribute, as written.

    Scanned by hand in one pass: a regular expression with white space on both sides of
    an optional value backtracks quadratically over a long run of spaces. A quote that
    is never closed ends the scan for that quote, and the scan goes on after each value.
    """
    lower = ascii_lower(css)
    urls, i, n = [], 0, len(css)
    unclosed = set()
    while True:
        start = lower.find("url(", i)
        if start < 0:
            return urls
        j = start + 4
        while j < n and css[j] in _CSS_SPACE:
            j += 1
        i = j
        if j < n and css[j] in "\"'":
            quote = css[j]
            close = -1 if quote in unclosed else css.find(quote, j + 1)
            if close < 0:
                unclosed.add(quote)
                continue
            value, k = css[j + 1 : close], close + 1
        else:
            k = j
            while k < n and css[k] not in _CSS_SPACE and css[k] not in "()\"'":
                k += 1
            value = css[j:k]
        i = k
        while k < n and css[k] in _CSS_SPACE:
            k += 1
        if k < n and css[k] == ")":
            i = k + 1
            if value:
                urls.append(value)


def _srcset_urls(value: str) -> list[str]:
    """The URLs of a srcset: candidates are a URL, maybe descriptors (``2x``, ``480w``),
    separated by commas; a URL may hold commas itself, but not white space."""
    urls, i, n = [], 0, len(value)
    while i < n:
        while i < n and (value[i].isspace() or value[i] == ","):
            i += 1
        start = i
        while i < n and not value[i].isspace():
            i += 1
        url = value[start:i]
        if url.endswith(","):
            url = url.rstrip(",")
        elif i < n:
            comma = value.find(",", i)
            i = n if comma < 0 else comma + 1
        if url:
            urls.append(url)
    return urls


def _html_hits(text: str) -> list[tuple[int, str]]:
    starts = [0] + [m.end() for m in re.finditer("\n", text)]
    collector = _AttributeCollector(starts)
    try:
        # Nothing after the last ">" can be a whole tag; cutting it off spares html.parser its
        # quadratic rescans of a long unclosed tail (many "<a" and no ">").
        collector.feed(text[: text.rfind(">") + 1])
        collector.close()
    except AssertionError:
        # Should the parser still trip over some markup, keep what was found before it.
        pass
    return collector.hits


def _html_references(text: str) -> list[str]:
    return [written for _, written in _html_hits(text)]
