"""A model card as PDF: the card's HTML (cards/html.py, the same Markdown) laid out by fpdf2, which is
pure Python (no system libraries).

Text is set in DejaVu Sans when the machine has it (Debian's fonts-dejavu-core, most Linux images),
so any script prints; without it, in the PDF core font Helvetica, which covers Latin-1 only: other
characters are printed as their closest Latin-1 form or "?".
"""

from __future__ import annotations

import os
import re
import unicodedata
from functools import lru_cache
from pathlib import Path

from fpdf import FPDF
from fpdf.fonts import FontFace, TextStyle

from maestro_graph.cards.html import body_html
from maestro_graph.domain.model_card import ModelCard

FONT_DIRS = (
    os.environ.get("MAESTRO_CARD_FONT_DIR", ""),
    "/usr/share/fonts/truetype/dejavu",  # Debian, Ubuntu
    "/usr/share/fonts/dejavu",  # Fedora, Alpine
    "/usr/share/fonts/TTF",  # Arch
)
FONT_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf", "I": "DejaVuSans-Oblique.ttf",
              "BI": "DejaVuSans-BoldOblique.ttf"}
MONO_FILE = "DejaVuSansMono.ttf"
ASCII_FOR = {"→": "->", "−": "-", "–": "-", "—": "-", "…": "...", "“": '"', "”": '"', "‘": "'", "’": "'", "•": "-"}


_CELL = re.compile(r"<(td|th)((?:\s[^>]*)?)>(.*?)</\1>", re.S)
_TAG = re.compile(r"<[^>]+>")
_TABLE = re.compile(r"<table>.*?</table>", re.S)
_SECTION = re.compile(r"</?t(?:head|body)>")


def plain_cells(html: str) -> str:
    """fpdf2 lays out table cells of plain text only: drop the inline tags inside them (markdown-it
    escapes every < of the text itself, so what is dropped is markup).

    >>> plain_cells("<table>\\n<tbody>\\n<tr><td><code>a</code> &lt;b&gt;</td></tr>\\n</tbody></table>")
    '<table><tr><td>a &lt;b&gt;</td></tr></table>'
    """
    html = _CELL.sub(lambda m: f"<{m[1]}{m[2]}>{_TAG.sub('', m[3])}</{m[1]}>", html)
    return _TABLE.sub(lambda m: _widths(_SECTION.sub("", re.sub(r">\s+<", "><", m[0]))), html)


# Column widths (percent) by a table's column count: the last column, the one with prose, widest.
WIDTHS = {2: (28, 72), 3: (34, 22, 44), 4: (13, 13, 22, 52), 5: (20, 15, 13, 12, 40)}


def _widths(table: str) -> str:
    widths = iter(WIDTHS.get(table.count("<th"), ()))
    return re.sub(r"<th(?=[\s>])", lambda m: f'<th width="{w}%"' if (w := next(widths, None)) else m[0], table)


@lru_cache(maxsize=1)
def font_dir() -> Path | None:
    """Where DejaVu Sans (all four styles and the mono) is, if anywhere."""
    for d in FONT_DIRS:
        if d and all((Path(d) / f).is_file() for f in (*FONT_FILES.values(), MONO_FILE)):
            return Path(d)
    return None


def latin1(text: str) -> str:
    """Text the core fonts can print.

    >>> latin1("é → Ω")
    'é -> ?'
    """
    out = []
    for ch in text:
        ch = ASCII_FOR.get(ch, ch)
        if len(ch) == 1 and ord(ch) > 255:
            ch = unicodedata.normalize("NFKD", ch).encode("latin-1", "ignore").decode("latin-1") or "?"
        out.append(ch)
    return "".join(out)


class CardPDF(FPDF):
    def __init__(self, title: str) -> None:
        super().__init__(format="A4")
        self.card_title = title
        self.set_margins(16, 16, 16)
        self.set_auto_page_break(True, margin=16)
        fonts = font_dir()
        if fonts is not None:
            for style, name in FONT_FILES.items():
                self.add_font("DejaVu", style, str(fonts / name))
            self.add_font("DejaVuMono", "", str(fonts / MONO_FILE))
            self.family, self.mono = "DejaVu", "DejaVuMono"
        else:
            self.family, self.mono = "helvetica", "courier"
        self.set_title(self.text(title))
        self.set_creator("Maestro Graph")

    def text(self, value: str) -> str:  # type: ignore[override]
        return value if self.family == "DejaVu" else latin1(value)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(self.family, "", 8)
        self.set_text_color(110, 120, 130)
        self.cell(0, 6, self.text(f"{self.card_title}  ·  page {self.page_no()}/{{nb}}"), align="C")


def to_pdf(card: ModelCard) -> bytes:
    d = card.details
    pdf = CardPDF(f"Model card: {d.model_name} {d.version}")
    pdf.add_page()
    pdf.set_font(pdf.family, "", 10)
    accent = (47, 95, 167)
    pdf.write_html(
        pdf.text(plain_cells(body_html(card))),
        font_family=pdf.family,
        table_line_separators=True,
        li_prefix_color=accent,
        tag_styles={
            "h1": TextStyle(font_family=pdf.family, font_size_pt=18, color=(31, 41, 51), t_margin=0, b_margin=4),
            "h2": TextStyle(font_family=pdf.family, font_size_pt=13, color=accent, t_margin=6, b_margin=2),
            "h3": TextStyle(font_family=pdf.family, font_size_pt=11, color=(31, 41, 51), t_margin=4, b_margin=1),
            "code": FontFace(family=pdf.mono, size_pt=9),
            "pre": TextStyle(font_family=pdf.mono, font_size_pt=9),
            "blockquote": TextStyle(font_family=pdf.family, color=(31, 41, 51), l_margin=4, t_margin=0, b_margin=2),
        },
    )
    return bytes(pdf.output())
