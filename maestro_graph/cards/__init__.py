"""Model cards rendered for people: Markdown written by hand from the card's structure (ours), HTML
made from that Markdown (markdown-it-py) in a self-contained page, and PDF (fpdf2) from that HTML.

>>> sorted(MEDIA_TYPES)
['html', 'md', 'pdf']
"""

from __future__ import annotations

from maestro_graph.cards.html import to_html
from maestro_graph.cards.markdown import to_markdown
from maestro_graph.cards.pdf import to_pdf
from maestro_graph.domain.model_card import ModelCard

MEDIA_TYPES = {"md": "text/markdown; charset=utf-8", "html": "text/html; charset=utf-8", "pdf": "application/pdf"}


def render(card: ModelCard, fmt: str) -> bytes:
    """The card in one of MEDIA_TYPES' formats."""
    assert fmt in MEDIA_TYPES, f"render: unknown format {fmt!r}"
    if fmt == "md":
        return to_markdown(card).encode()
    if fmt == "html":
        return to_html(card).encode()
    return to_pdf(card)
