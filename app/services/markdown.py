"""The one safe Markdown renderer: announcements, duties and anything else people write in
Markdown go through `render()` before they reach a page or an e-mail.

markdown-it-py turns CommonMark (with tables and strikethrough) into HTML, inline HTML
included; nh3 (ammonia) then keeps only an allow-list of tags and attributes, so a `<script>`
or `<style>` is dropped with its content, an event-handler attribute (`onclick`, `onerror`, …)
or an unknown tag is stripped, links only point at http(s)/mailto, and every link gets
`rel="noopener nofollow"`. Nothing a writer types is ever executed.
"""

import html
from functools import lru_cache

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

TAGS = frozenset(
    {
        "a", "abbr", "b", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4",
        "h5", "h6", "hr", "i", "li", "ol", "p", "pre", "s", "strong", "sub", "sup", "table",
        "tbody", "td", "th", "thead", "tr", "ul",
    }
)  # fmt: skip
ATTRIBUTES = {"a": {"href", "title"}, "abbr": {"title"}, "td": {"align"}, "th": {"align"}}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
REL = "noopener nofollow"


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    # CommonMark plus tables and strikethrough; what raw HTML it lets through, nh3 cleans.
    return MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


def clean(html: str) -> str:
    """Any HTML reduced to the allow-list (what `render` does after parsing)."""
    return nh3.clean(
        html,
        tags=set(TAGS),
        attributes={tag: set(names) for tag, names in ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel=REL,
        strip_comments=True,
    )


def render(text: str | None) -> Markup:
    """Markdown as safe HTML, ready to put in a template without escaping."""
    if not text:
        return Markup("")
    return Markup(clean(_parser().render(text)))  # noqa: S704  (cleaned by nh3 just now)


def plain(text: str | None) -> str:
    """The text of rendered Markdown without any markup: for the plain-text e-mail part,
    feeds' summaries and search snippets (the source itself reads well as text)."""
    if not text:
        return ""
    return html.unescape(nh3.clean(_parser().render(text), tags=set())).strip()
