"""A model card as one self-contained HTML page: the card's Markdown through markdown-it-py (raw
HTML in it is not passed through, so what people wrote cannot inject markup or script), in a small
template with its CSS inline (nothing loaded from anywhere)."""

from __future__ import annotations

from html import escape

from markdown_it import MarkdownIt

from maestro_graph.cards.markdown import to_markdown
from maestro_graph.domain.model_card import ModelCard

# CommonMark without raw HTML, with GitHub's tables; links markdown-it judges unsafe (javascript:) stay text.
_MD = MarkdownIt("commonmark", {"html": False}).enable("table")

STYLE = """
:root { color-scheme: light; --ink: #1f2933; --muted: #52606d; --line: #d9e2ec; --accent: #2f5fa7; --soft: #f5f7fa; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--soft); color: var(--ink);
       font: 15px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
main { max-width: 980px; margin: 24px auto; padding: 32px 40px; background: #fff;
       border: 1px solid var(--line); border-radius: 8px; }
h1 { font-size: 26px; margin: 0 0 12px; }
h2 { font-size: 19px; margin: 28px 0 8px; padding-bottom: 4px; border-bottom: 2px solid var(--line); color: var(--accent); }
h3 { font-size: 16px; margin: 18px 0 4px; }
p, ul { margin: 6px 0 10px; }
blockquote { margin: 0 0 16px; padding: 10px 14px; background: #eef4fb; border-left: 4px solid var(--accent);
             border-radius: 4px; color: var(--ink); }
blockquote p { margin: 2px 0; }
table { border-collapse: collapse; width: 100%; margin: 8px 0 14px; font-size: 14px; }
th, td { text-align: left; vertical-align: top; padding: 6px 10px; border-bottom: 1px solid var(--line); }
th { background: var(--soft); font-weight: 600; }
code { font: 13px/1.4 ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; background: var(--soft);
       padding: 1px 4px; border-radius: 3px; word-break: break-all; }
em { color: var(--muted); }
footer { max-width: 980px; margin: 0 auto 24px; color: var(--muted); font-size: 12px; text-align: center; }
"""


def body_html(card: ModelCard) -> str:
    """The card's Markdown as HTML, without the page around it."""
    return _MD.render(to_markdown(card))


def to_html(card: ModelCard) -> str:
    d = card.details
    title = escape(f"Model card: {d.model_name} {d.version}")
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n<title>{title}</title>\n'
            f"<style>{STYLE}</style>\n</head>\n<body>\n<main>\n{body_html(card)}</main>\n"
            f"<footer>Maestro Graph model card, generated from the graph on request.</footer>\n</body>\n</html>\n")
