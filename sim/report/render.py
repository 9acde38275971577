"""report.md -> a self-contained report.html: the Markdown converted by the `markdown` package, every
figure embedded as a base64 PNG, the stylesheet inline. Nothing is loaded from anywhere when the file is
opened: no URL, no CDN, no web font, no script.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Mapping
from pathlib import Path

import markdown

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
       line-height: 1.5; color: #1d1d1f; max-width: 62rem; margin: 2rem auto; padding: 0 1.2rem; }
h1 { font-size: 1.8rem; margin-bottom: .2rem; }
h2 { font-size: 1.35rem; margin-top: 2.2rem; border-bottom: 1px solid #ddd; padding-bottom: .2rem; }
h3 { font-size: 1.1rem; margin-top: 1.6rem; }
table { border-collapse: collapse; margin: .8rem 0; font-size: .92rem; display: block; max-width: 100%;
        overflow-x: auto; }
th, td { border: 1px solid #d0d0d0; padding: .25rem .6rem; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
td:not(:first-child) { font-variant-numeric: tabular-nums; }
img { max-width: 100%; height: auto; display: block; margin: 1rem 0 .3rem; }
code { background: #f3f3f3; padding: 0 .25rem; border-radius: 3px; font-size: .9em; }
blockquote { margin: 1rem 0; padding: .6rem 1rem; background: #f6f8fa; border-left: 4px solid #1f77b4; }
em { color: #444; }
"""

_IMAGE = re.compile(r'<img alt="(?P<alt>[^"]*)" src="(?P<src>[^"]+)"\s*/?>')
_HEADER = re.compile(r"(?P<open><th[^>]*>)(?P<text>.*?)(?P<close></th>)", re.DOTALL)
_TAG = re.compile(r"(<[^>]*>)")


def _breakable(match: re.Match[str]) -> str:
    """A table header whose long names (`max_tokens_per_user`) may wrap after their underscores, so that a
    table of many named columns fits the page (tags are left as they are)."""
    parts = _TAG.split(match["text"])
    text = "".join(part if part.startswith("<") else part.replace("_", "_<wbr>") for part in parts)
    return match["open"] + text + match["close"]


def markdown_to_html(text: str, title: str, images: Mapping[str, Path]) -> str:
    """The whole HTML page for a Markdown report; `images` maps each `src` in the text to an SVG or PNG
    file, embedded in the page (SVG stays sharp at any zoom).

    Raises ValueError when the text references an image that is not in `images` (it would not show).
    """
    body = markdown.markdown(text, extensions=["tables", "sane_lists"], output_format="html")

    def embed(match: re.Match[str]) -> str:
        src = html.unescape(match["src"])
        if src not in images:
            raise ValueError(f"report references {src!r}, which is not an embedded figure")
        path = Path(images[src])
        mime = "image/svg+xml" if path.suffix == ".svg" else "image/png"
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        return f'<img alt="{match["alt"]}" src="data:{mime};base64,{data}">'

    body = _IMAGE.sub(embed, body)
    body = _HEADER.sub(_breakable, body)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<title>{html.escape(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def md_escape(text: str) -> str:
    """Text safe inside a Markdown table cell or paragraph (pipes, emphasis and HTML characters)."""
    text = html.escape(str(text), quote=False)
    text = re.sub(r"([|*`\[\]\\])", r"\\\1", text)
    text = re.sub(r"(?<!\w)_|_(?!\w)", r"\\_", text)  # intraword underscores are literal already
    return text.replace("\n", " ")


_CODE_SPAN = re.compile(r"(`[^`\n]+`)")


def md_prose(text: str) -> str:
    """Like `md_escape`, but `code spans` written in the text stay code (a scenario's description)."""
    parts = _CODE_SPAN.split(str(text))
    return "".join(part if index % 2 else md_escape(part) for index, part in enumerate(parts))


def md_code(text: str) -> str:
    """Text as an inline code span in a table cell: kept literally (no escapes inside code), pipes
    escaped for the table and backticks replaced, which a code span cannot hold."""
    return "`" + str(text).replace("`", "'").replace("|", "\\|").replace("\n", " ") + "`"
