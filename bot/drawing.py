"""Drawing the charts (`bot/charts.py` has their data) as PNGs with matplotlib.

matplotlib is imported only when a picture is drawn, so starting the bot stays fast, and it
uses `Figure` with the Agg canvas rather than pyplot, whose registry of open figures would grow
in a long-running process. Drawing is CPU work: callers run it in a thread.
"""

from __future__ import annotations

import io
import math
import textwrap
import threading
from datetime import date, timedelta
from typing import TYPE_CHECKING

from bot.domain import Stance

if TYPE_CHECKING:
    from matplotlib.artist import Artist
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.text import Text

    from bot.charts import Board, Tile, Timeline

DPI = 100
BOARD_SIZE = (1200, 800)  # pixels: wide enough to read on a phone, big type
TIMELINE_SIZE = (1200, 700)
COLUMNS = 8  # 32 members: 8 x 4 tiles

# The Okabe-Ito palette, told apart with any colour vision; a light grey for "no position".
BLUE, ORANGE, GREEN, PURPLE = "#0072B2", "#E69F00", "#009E73", "#CC79A7"
SKY, VERMILLION = "#56B4E9", "#D55E00"
GREY, INK = "#DDDDDD", "#222222"

# matplotlib's font cache and rcParams are shared by all threads: draw one picture at a time.
_DRAWING = threading.Lock()
# Names and labels are users' text: with maths on, a name like "Jean $\foo$" would be read as
# mathtext and fail every drawing it appears in, so all text is drawn as plain text.
_STYLE = {
    "font.family": "DejaVu Sans",
    "hatch.color": "white",
    "hatch.linewidth": 2.5,
    "text.parse_math": False,
}


COLOURS = {
    Stance.BACKS: BLUE,
    Stance.OPPOSES: VERMILLION,
    Stance.ABSTAINS: SKY,
    Stance.BACKS_ANOTHER: ORANGE,
    Stance.NO_POSITION: GREY,
}
# so 'opposes' and 'abstains' never rely on colour alone
HATCHES = {Stance.OPPOSES: "//", Stance.ABSTAINS: ".."}
TEXT_COLOURS = {Stance.BACKS: "white"}
LINE_COLOURS = (BLUE, ORANGE, GREEN, PURPLE, SKY, VERMILLION)
LINE_MARKERS = "os^DvP"


def line_style(i: int) -> tuple[str, str]:
    """The i-th candidate's colour and marker; from the seventh on, new pairs of the two."""
    n = len(LINE_COLOURS)
    return LINE_COLOURS[i % n], LINE_MARKERS[(i + i // n) % n]


def draw_board(b: Board) -> bytes:
    """The board as a PNG of BOARD_SIZE."""
    import matplotlib
    from matplotlib.patches import FancyBboxPatch, Patch

    width, height = BOARD_SIZE
    gap = 0.035  # around each tile, in tile widths
    rows = math.ceil(len(b.tiles) / COLUMNS)
    tile_px = 0.96 * width / COLUMNS
    with _DRAWING, matplotlib.rc_context(_STYLE):
        fig = _figure(BOARD_SIZE)
        _header(fig, b.title, b.subtitle, b.day)
        grid_height = min(tile_px * rows / height, 0.72)  # square tiles if they fit
        ax = fig.add_axes((0.02, 0.85 - grid_height, 0.96, grid_height))
        ax.set_xlim(0, COLUMNS)
        ax.set_ylim(rows, 0)
        ax.axis("off")
        names: list[Text] = []
        details: list[Text] = []
        for i, tile in enumerate(b.tiles):
            row, col = divmod(i, COLUMNS)
            ax.add_patch(
                FancyBboxPatch(
                    (col + gap, row + gap),
                    1 - 2 * gap,
                    1 - 2 * gap,
                    boxstyle="round,pad=0,rounding_size=0.06",
                    facecolor=tile.colour,
                    hatch=HATCHES.get(tile.status),
                    linewidth=0,
                )
            )
            text = {"ha": "center", "va": "center", "color": TEXT_COLOURS.get(tile.status, INK)}
            label = "\n".join(textwrap.wrap(tile.label, 11))  # "North\nMacedonia"
            y = row + (0.42 if tile.detail else 0.5)
            names.append(
                ax.text(
                    col + 0.5,
                    y,
                    label,
                    fontsize=18,
                    fontweight="bold",
                    linespacing=1.05,
                    bbox=_backing(tile),
                    **text,
                )
            )
            if tile.detail:
                details.append(
                    ax.text(
                        col + 0.5, row + 0.8, tile.detail, fontsize=14, bbox=_backing(tile), **text
                    )
                )
        inner = tile_px * (1 - 2 * gap) * 0.92
        _shrink_to_fit(names, inner)
        _shrink_to_fit(details, inner)
        handles = [
            Patch(facecolor=COLOURS[s], hatch=HATCHES.get(s), label=label) for s, label in b.legend
        ]
        legend = fig.legend(
            handles=handles,
            loc="lower center",
            bbox_to_anchor=(0.5, 0.02),
            ncols=len(handles),
            frameon=False,
            fontsize=15,
            handlelength=2,
            handleheight=1.5,
            columnspacing=1.5,
        )
        _shrink_to_fit(legend.get_texts(), width * 0.96, fit=legend)
        return _png(fig)


def draw_timeline(t: Timeline) -> bytes:
    """The timeline as a PNG of TIMELINE_SIZE."""
    import matplotlib
    import matplotlib.dates as mdates

    with _DRAWING, matplotlib.rc_context(_STYLE):
        fig = _figure(TIMELINE_SIZE)
        _header(fig, t.title, t.subtitle)
        ax = fig.add_axes((0.07, 0.1, 0.9, 0.66))
        for line in t.lines:
            days, counts = zip(*line.points, strict=True)
            changes = [i for i, n in enumerate(counts) if i == 0 or n != counts[i - 1]]
            ax.step(
                days,
                counts,
                where="post",
                color=line.colour,
                linewidth=3.5,
                marker=line.marker,
                markersize=11,
                markevery=changes,
                clip_on=False,
                zorder=3,
                label=f"{line.name}: {counts[-1]}",
            )
        for backers, label in t.rule_lines:
            ax.axhline(backers, color=INK, linestyle="--", linewidth=1.5)
            ax.text(
                0.01,
                backers,
                label,
                transform=ax.get_yaxis_transform(),
                ha="left",
                va="bottom",
                fontsize=14,
                color=INK,
            )
        # The earlier of today and the deadline is labelled on its left, the later on its
        # right, so the two labels never overlap; the time left between them is shaded.
        (early, early_label), (late, late_label) = sorted(
            [(t.as_of, t.as_of_label), (t.deadline, t.deadline_label)]
        )
        if t.time_left:
            ax.axvspan(t.as_of, t.deadline, color="#F2F2F2", zorder=0)
        ax.axvline(t.as_of, color=INK, linestyle=":", linewidth=1.5)
        ax.axvline(t.deadline, color=INK, linewidth=1.5)
        mark = {
            "xycoords": ("data", "axes fraction"),
            "textcoords": "offset points",
            "va": "top",
            "fontsize": 14,
            "color": INK,
        }
        ax.annotate(early_label, (early, 1), xytext=(-8, -8), ha="right", **mark)
        right = ax.annotate(late_label, (late, 1), xytext=(8, -8), ha="left", **mark)
        first = min([late, early, *(line.points[0][0] for line in t.lines)])
        _set_date_range(ax, first, late, right)
        if t.time_left:
            _label_time_left(ax, t)
        locator = mdates.AutoDateLocator(maxticks=8)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
        step = max(1, math.ceil(t.total / 4))
        ax.set_yticks(sorted({*range(0, t.total + 1, step), t.total}))
        ax.set_ylim(0, t.total * 1.25)  # headroom for the labels above the rule's line
        ax.tick_params(labelsize=14)
        ax.set_ylabel("Backers", fontsize=15)
        ax.grid(axis="y", color="#E5E5E5")
        ax.spines[["top", "right"]].set_visible(False)
        if t.lines:  # in a row under the subtitle, clear of the data
            fig.legend(
                loc="upper left",
                bbox_to_anchor=(0.015, 0.855),
                ncols=min(len(t.lines), 4),
                fontsize=15,
                frameon=False,
                handlelength=2.5,
            )
        return _png(fig)


def _figure(size: tuple[int, int]) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(size[0] / DPI, size[1] / DPI), dpi=DPI, facecolor="white")
    FigureCanvasAgg(fig)
    return fig


def _header(fig: Figure, title: str, subtitle: str, corner: str = "") -> None:
    """A bold title, a date at the top right, a subtitle; each shrunk to fit the width."""
    width = fig.bbox.width * 0.96
    if corner:
        day = fig.text(0.98, 0.97, corner, ha="right", va="top", fontsize=26, color="#555555")
        width -= day.get_window_extent().width + 30
    head = fig.text(
        0.02, 0.97, title, ha="left", va="top", fontsize=28, fontweight="bold", color=INK
    )
    _shrink_to_fit([head], width)
    sub = fig.text(0.02, 0.895, subtitle, ha="left", va="top", fontsize=16, color="#444444")
    _shrink_to_fit([sub], fig.bbox.width * 0.96)


def _backing(tile: Tile) -> dict | None:
    """A white label behind the text on a hatched tile, so the text stays clear."""
    if tile.status not in HATCHES:
        return None
    return {"facecolor": "white", "edgecolor": "none", "boxstyle": "round,pad=0.25"}


def _shrink_to_fit(texts: list[Text], width_px: float, fit: Artist | None = None) -> None:
    """Shrink `texts` alike until the widest of them (or `fit`, which holds them) fits."""
    if not texts:
        return
    renderer = texts[0].figure.canvas.get_renderer()
    widest = (
        fit.get_window_extent(renderer).width
        if fit is not None
        else max(t.get_window_extent(renderer).width for t in texts)
    )
    if widest > width_px:
        for t in texts:
            t.set_fontsize(t.get_fontsize() * width_px / widest)


def _set_date_range(ax: Axes, first: date, last: date, label: Text) -> None:
    """From a little before `first` to past `last`, far enough for `label` on its right."""
    span = max((last - first).days, 7)
    before = span * 0.03
    renderer = ax.figure.canvas.get_renderer()
    share = min((label.get_window_extent(renderer).width + 20) / ax.bbox.width, 0.5)
    after = share * (span + before) / (1 - share)  # so the label takes `share` of the axis
    ax.set_xlim(first - timedelta(days=before), last + timedelta(days=after))


def _label_time_left(ax: Axes, t: Timeline) -> None:
    """'97 days left' in the middle of the shaded time left, if it fits there."""
    from matplotlib.dates import date2num

    middle = t.as_of + (t.deadline - t.as_of) / 2
    label = ax.text(
        middle,
        0.45,
        t.time_left,
        transform=ax.get_xaxis_transform(),
        ha="center",
        va="center",
        fontsize=18,
        color="#666666",
    )
    renderer = ax.figure.canvas.get_renderer()
    shaded = ax.transData.transform([(date2num(t.as_of), 0), (date2num(t.deadline), 0)])
    if label.get_window_extent(renderer).width > (shaded[1][0] - shaded[0][0]) * 0.9:
        label.remove()


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.canvas.print_png(buffer, metadata={"Software": None}, pil_kwargs={"optimize": True})
    return buffer.getvalue()
