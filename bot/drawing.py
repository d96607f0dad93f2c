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
MIN_DAYS = 14  # the shortest stretch of time a timeline shows
MIN_FONT = 8  # points: no label is shrunk below it
VETO_BORDER = 5  # points: the bold border of a tile whose member has a veto

# The Okabe-Ito palette, told apart with any colour vision; a light grey for "no position".
BLUE, ORANGE, GREEN, PURPLE = "#0072B2", "#E69F00", "#009E73", "#CC79A7"
SKY, VERMILLION = "#56B4E9", "#D55E00"
GREY, INK = "#DDDDDD", "#222222"
FAINT = "#BBBBBB"  # what the chart keeps for reference: an earlier deadline

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
REPORTED_NOTE = "Lighter: only reported, not on record"


def lighter(colour: str, by: float = 0.55) -> str:
    """`colour` ('#0072B2') mixed with white: a position only reported, beside one on record."""
    rgb = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return "#" + "".join(f"{round(c + (255 - c) * by):02X}" for c in rgb)


# so 'opposes' and 'abstains' never rely on colour alone
HATCHES = {Stance.OPPOSES: "//", Stance.ABSTAINS: ".."}
TEXT_COLOURS = {Stance.BACKS: "white"}
LINE_COLOURS = (BLUE, ORANGE, GREEN, PURPLE, SKY, VERMILLION)
LINE_MARKERS = "os^DvP"
ROUNDS_LABEL = "Published rounds: encourage"
LEGEND_ROW = 4  # entries that fit in a row above the timeline; more go in a column beside it


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
        weights: list[Text] = []
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
                    edgecolor=INK,
                    linewidth=VETO_BORDER if tile.veto else 0,
                )
            )
            ink = INK if tile.reported else TEXT_COLOURS.get(tile.status, INK)  # on a light tile
            text = {"ha": "center", "va": "center", "color": ink}
            label = "\n".join(textwrap.wrap(tile.label, 11))  # "North\nMacedonia"
            lines = [part for part in (tile.weight, tile.detail) if part]
            y = row + (0.5, 0.42, 0.34)[len(lines)]
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
            if tile.weight:
                weights.append(
                    ax.text(
                        col + 0.5,
                        row + (0.62 if tile.detail else 0.78),
                        tile.weight,
                        fontsize=16,
                        bbox=_backing(tile),
                        **text,
                    )
                )
            if tile.detail:
                details.append(
                    ax.text(
                        col + 0.5, row + 0.82, tile.detail, fontsize=14, bbox=_backing(tile), **text
                    )
                )
        inner = tile_px * (1 - 2 * gap) * 0.92
        _shrink_to_fit(names, inner)
        _shrink_to_fit(weights, inner)
        _shrink_to_fit(details, inner)
        handles = [
            Patch(facecolor=COLOURS[s], hatch=HATCHES.get(s), label=label) for s, label in b.legend
        ]
        if b.veto_note:
            handles.append(
                Patch(facecolor="white", edgecolor=INK, linewidth=VETO_BORDER, label=b.veto_note)
            )
        if any(t.reported for t in b.tiles):
            handles.append(Patch(facecolor=lighter(BLUE), label=REPORTED_NOTE))
        if b.weight_note:  # a line of text among the entries, with no patch
            handles.append(Patch(facecolor="none", edgecolor="none", label=b.weight_note))
        legend = fig.legend(
            handles=handles,
            loc="lower center",
            bbox_to_anchor=(0.5, 0.02),
            ncols=len(handles) if len(handles) <= 4 else math.ceil(len(handles) / 2),
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
    from matplotlib.lines import Line2D
    from matplotlib.ticker import PercentFormatter

    with _DRAWING, matplotlib.rc_context(_STYLE):
        fig = _figure(TIMELINE_SIZE)
        _header(fig, t.title, t.subtitle)
        # a legend entry per line and one for the rounds: in a row above, or a column beside
        column = len(t.lines) + bool(t.rounds) > LEGEND_ROW
        ax = fig.add_axes((0.08, 0.1, 0.62 if column else 0.89, 0.66))
        for line in t.lines:
            days, values = zip(*line.points, strict=True)
            changes = [i for i, n in enumerate(values) if i == 0 or n != values[i - 1]]
            ax.step(
                days,
                values,
                where="post",
                color=line.colour,
                linewidth=3.5,
                linestyle=(0, (3, 1.5)) if line.dashed else "-",
                marker=line.marker,
                markersize=11,
                markevery=changes,
                clip_on=False,
                zorder=3,
                label=line.name,
            )
        _draw_rounds(ax, t)
        if t.earlier_deadline is not None:  # the target it replaced, faintly
            ax.axvline(t.earlier_deadline, color=FAINT, linewidth=1.5, zorder=0)
            ahead = t.earlier_deadline >= t.as_of  # then its right is the future, clear of data
            earlier = ax.annotate(
                t.earlier_label,
                (t.earlier_deadline, 0.01),
                xycoords=("data", "axes fraction"),
                xytext=(4 if ahead else -4, 0),
                textcoords="offset points",
                rotation=90,
                ha="left" if ahead else "right",
                va="bottom",
                fontsize=11,
                color="#888888",
            )
            _shrink_to_fit([earlier], ax.bbox.height * 0.9, along="height")
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
        left = ax.annotate(early_label, (early, 1), xytext=(-8, -8), ha="right", **mark)
        right = ax.annotate(late_label, (late, 1), xytext=(8, -8), ha="left", **mark)
        shown = [line.points[0][0] for line in t.lines] + [r.on for r in t.rounds]
        if t.earlier_deadline is not None:
            shown.append(t.earlier_deadline)
        _set_date_range(ax, min([early, *shown]), early, late, left, right)
        # Each goal from the left edge, a step where the electorate changed, on to the deadline.
        left_edge = mdates.num2date(ax.get_xlim()[0]).date()
        last_day = max(t.as_of, t.deadline)
        labels = []
        for goal in t.goals:
            days, values = zip(*goal.points, strict=True)
            ax.step(
                [left_edge, *days, last_day],
                [values[0], *values, values[-1]],
                where="post",
                color=INK,
                linestyle="--",
                linewidth=1.5,
            )
            labels.append(
                ax.text(
                    0.01,
                    values[-1],
                    goal.label,
                    transform=ax.get_yaxis_transform(),
                    ha="left",
                    va="bottom",
                    fontsize=14,
                    color=INK,
                )
            )
        _shrink_to_fit(labels, ax.bbox.width * 0.7)
        if t.time_left:
            _label_time_left(ax, t)
        locator = mdates.AutoDateLocator(maxticks=8)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
        step = max(1, math.ceil(t.top / 4))
        ax.set_yticks(sorted({*range(0, math.ceil(t.top) + 1, step), t.top}))
        if t.percent:
            ax.yaxis.set_major_formatter(PercentFormatter(decimals=0))
        ax.set_ylim(0, t.top * 1.25)  # headroom for the labels above the rule's line
        ax.tick_params(labelsize=14)
        ax.set_ylabel(t.axis, fontsize=15)
        ax.grid(axis="y", color="#E5E5E5")
        ax.spines[["top", "right"]].set_visible(False)
        handles, _ = ax.get_legend_handles_labels()
        if t.rounds:
            handles.append(
                Line2D(
                    [],
                    [],
                    linestyle="none",
                    marker="o",
                    markersize=11,
                    markerfacecolor="white",
                    markeredgecolor=INK,
                    markeredgewidth=2,
                    label=ROUNDS_LABEL,
                )
            )
        if column:
            legend = fig.legend(
                handles=handles,
                loc="upper left",
                bbox_to_anchor=(0.71, 0.8),
                fontsize=13,
                frameon=False,
                handlelength=1.8,
            )
            _shrink_to_fit(legend.get_texts(), fig.bbox.width * 0.28, fit=legend)
        elif handles:  # in a row under the subtitle, clear of the data
            legend = fig.legend(
                handles=handles,
                loc="upper left",
                bbox_to_anchor=(0.015, 0.855),
                ncols=len(handles),
                fontsize=15,
                frameon=False,
                handlelength=2.5,
            )
            _shrink_to_fit(legend.get_texts(), fig.bbox.width * 0.96, fit=legend)
        return _png(fig)


def _draw_rounds(ax: Axes, t: Timeline) -> None:
    """Each round as a faint line on its day with its name up it, and each candidate's
    'encourage' count as a hollow marker in the candidate's colour."""
    names = []
    for r in t.rounds:
        ax.axvline(r.on, color="#CCCCCC", linewidth=1, zorder=1)
        names.append(
            ax.annotate(  # up from the bottom, just right of the markers
                r.name,
                (r.on, 0.01),
                xycoords=("data", "axes fraction"),
                xytext=(7, 0),
                textcoords="offset points",
                rotation=90,
                ha="left",
                va="bottom",
                fontsize=11,
                color="#666666",
            )
        )
        for _, value, colour, marker in r.marks:
            ax.plot(
                [r.on],
                [value],
                linestyle="none",
                marker=marker,
                markersize=10,
                markerfacecolor="white",
                markeredgecolor=colour,
                markeredgewidth=2.5,
                clip_on=False,
                zorder=4,
            )
    _shrink_to_fit(names, ax.bbox.height * 0.6, along="height")


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


def _shrink_to_fit(
    texts: list[Text], length_px: float, fit: Artist | None = None, along: str = "width"
) -> None:
    """Shrink `texts` alike until the widest of them (or `fit`, which holds them and more that
    does not shrink, such as a legend's handles) fits in `length_px`, down to a size still
    read; `along="height"` measures text drawn upright."""
    if not texts:
        return
    renderer = texts[0].figure.canvas.get_renderer()

    def longest() -> float:
        if fit is not None:
            return getattr(fit.get_window_extent(renderer), along)
        return max(getattr(t.get_window_extent(renderer), along) for t in texts)

    while (length := longest()) > length_px and texts[0].get_fontsize() > MIN_FONT:
        for t in texts:
            t.set_fontsize(max(MIN_FONT, t.get_fontsize() * min(0.95, length_px / length)))


def _set_date_range(
    ax: Axes, first: date, early: date, last: date, left: Text, right: Text
) -> None:
    """From a little before `first` to past `last` (two weeks at least), with room for `left`,
    the label on the left of `early`, and for `right`, the label on the right of `last`."""
    first = min(first, last - timedelta(days=MIN_DAYS))
    span, lead = (last - first).days, (early - first).days
    renderer = ax.figure.canvas.get_renderer()

    def share(label: Text) -> float:
        return min((label.get_window_extent(renderer).width + 20) / ax.bbox.width, 0.4)

    a, b = share(right), share(left)
    before = span * 0.03
    whole = (span + before) / (1 - a)  # days on the axis, so `right` takes its share
    if b * whole > lead + before:  # `left` needs more room before `early`
        whole = (span - lead) / (1 - a - b)
        before = b * whole - lead
    ax.set_xlim(first - timedelta(days=before), last + timedelta(days=a * whole))


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
    """The picture as an RGB PNG: on a white figure an alpha channel holds nothing but bytes."""
    import numpy
    from PIL import Image

    fig.canvas.draw()
    image = Image.fromarray(numpy.asarray(fig.canvas.buffer_rgba())).convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, "PNG", optimize=True)
    return buffer.getvalue()
