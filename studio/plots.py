"""Plotly figures of the studio: latent trajectories, the action codebook, code usage and agreement.

Functions take arrays and return `plotly.graph_objects.Figure`s; they know nothing of Gradio.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative

from studio.analysis import ClipAnalysis, frame_times
from studio.metrics import confusion_matrix
from studio.probe import ProbeResult

# Sixteen colours for the codes, each pair at least 16 CIELAB units apart (CIE76) under normal vision and under
# simulated protanopia, deuteranopia and tritanopia (Machado et al. 2009), and as far from the grey of NO_CODE;
# the first eight at least 21 apart. Chosen greedily, farthest first, from the mid-light, saturated colours of
# a 6-level sRGB grid (tests/test_code_colors.py measures it). A larger codebook repeats them (the codebook map
# numbers every code as well).
CODE_COLORS = [
    "rgb(255,102,0)", "rgb(204,0,255)", "rgb(102,51,0)", "rgb(102,204,255)", "rgb(0,51,153)", "rgb(204,153,102)",
    "rgb(255,102,204)", "rgb(153,0,102)", "rgb(153,102,51)", "rgb(51,0,255)", "rgb(204,204,102)", "rgb(0,102,153)",
    "rgb(153,204,153)", "rgb(153,51,204)", "rgb(153,0,51)", "rgb(204,102,255)",
]  # fmt: skip
NO_CODE = -1  # the last frame of a clip starts no transition
NO_CODE_COLOR = qualitative.Safe[10]
TIMELINE_LANE = 26  # pixels per code in the code timeline
MAP_HEIGHT = 440  # pixels: under the page's header, tab bar and a clip's banner, the map fits a 720-pixel-high window
OVERLAY_COLOR = "rgb(230,97,0)"  # the overlaid clip: orange diamonds, dark enough for its legend swatch to show
OVERLAY_TIME_SCALE = [[0.0, "rgb(253,184,99)"], [1.0, "rgb(127,59,8)"]]  # light to dark orange, never white


@dataclass(frozen=True)
class Trajectory:
    """One clip's path through a map: a point per frame."""

    name: str
    coords: np.ndarray  # [T, 2 or 3]
    times: np.ndarray  # [T] seconds
    frame_codes: np.ndarray  # [T] int, the code of the transition leaving each frame, NO_CODE for the last
    familiar: np.ndarray | None = None  # [T] bool, frames the model finds familiar (unfamiliar ones are hollow)


def load_plotly() -> None:
    """plotly builds its figure classes on first use (Python holding the GIL): do it once, early."""
    go.Figure(go.Scatter(x=[0], y=[0]))


def code_color(code: int) -> str:
    return NO_CODE_COLOR if code == NO_CODE else CODE_COLORS[code % len(CODE_COLORS)]


def frame_codes(codes: np.ndarray, frames: int) -> np.ndarray:
    """Transition codes [T-1] -> per-frame codes [T]: frame t gets the code of t -> t+1."""
    return np.append(np.asarray(codes, dtype=np.int64), NO_CODE)[:frames]


def clip_trajectory(name: str, analysis: ClipAnalysis, coords: np.ndarray) -> Trajectory:
    """An analyzed clip's path through a map whose coordinates [T, dims] were computed for it."""
    scores = analysis.vouching.familiarity if analysis.vouching is not None else None
    familiar = None if scores is None else np.asarray(scores) >= 0
    return Trajectory(name, coords, frame_times(analysis), frame_codes(analysis.actions.codes, len(coords)), familiar)


def trajectory_figure(
    trajectories: list[Trajectory],
    color_by: str = "time",
    highlight: int | None = None,
    title: str = "",
    cloud: np.ndarray | None = None,
) -> go.Figure:
    """Latent trajectories in one map; the first is the main clip, whose frame `highlight` is ringed. `cloud`
    [M, dims]: the bundle's own reference frames in the same map, drawn as a grey cloud behind the paths."""
    figure = go.Figure()
    if cloud is not None and len(cloud):
        figure.add_trace(
            _scatter(
                cloud,
                mode="markers",
                name="the model's reference frames",
                marker=dict(size=4, color="rgba(150,150,150,0.35)"),
                hoverinfo="skip",
            )
        )
    for index, trajectory in enumerate(trajectories):
        _add_trajectory(figure, trajectory, color_by, main=index == 0)
    if highlight is not None and trajectories:
        main = trajectories[0]
        t = int(np.clip(highlight, 0, len(main.coords) - 1))
        figure.add_trace(
            _scatter(
                main.coords[t : t + 1],
                mode="markers",
                name=f"frame {t}",
                marker=dict(size=18, color="rgba(0,0,0,0)", line=dict(color="#d62728", width=3)),
                hoverinfo="skip",
            )
        )
    _layout(figure, title, dims=trajectories[0].coords.shape[1] if trajectories else 2)
    figure.update_layout(height=MAP_HEIGHT, clickmode="event")
    if color_by == "code":  # a code per entry: a row over the map would cover its title, so a column beside it
        figure.update_layout(legend=dict(orientation="v", yanchor="top", y=1.0, xanchor="left", x=1.01))
    return figure


def _add_trajectory(figure: go.Figure, trajectory: Trajectory, color_by: str, main: bool) -> None:
    coords, codes = trajectory.coords, trajectory.frame_codes
    frames = np.arange(len(coords)) if main else None  # a click on a main point shows that frame (the Clip tab)
    hover = [
        f"{trajectory.name}<br>frame {t}<br>{trajectory.times[t]:.2f} s<br>code {'–' if c == NO_CODE else c}"
        for t, c in enumerate(codes)
    ]
    figure.add_trace(
        _scatter(
            coords,
            mode="lines",
            name=f"{trajectory.name} path",
            line=dict(color="rgba(120,120,120,0.45)" if main else "rgba(230,97,0,0.45)", width=1.5),
            hoverinfo="skip",
            showlegend=False,
        )
    )
    shape = "circle" if main else "diamond"
    familiar = trajectory.familiar if trajectory.familiar is not None else np.ones(len(coords), bool)
    symbol = np.where(familiar, shape, f"{shape}-open")  # [T]: unfamiliar frames are hollow
    if color_by == "code":
        for code in np.unique(codes):
            mask = codes == code
            figure.add_trace(
                _scatter(
                    coords[mask],
                    mode="markers",
                    name=(
                        f"{'' if main else trajectory.name + ' · '}"
                        f"{'last frame' if code == NO_CODE else f'code {code}'}"
                    ),
                    marker=dict(
                        size=7 if main else 8,
                        color=code_color(int(code)),
                        symbol=symbol[mask].tolist(),
                        line=dict(width=0 if main else 1, color=OVERLAY_COLOR),
                    ),
                    text=[h for h, m in zip(hover, mask) if m],
                    customdata=None if frames is None else frames[mask],
                    hoverinfo="text",
                )
            )
        return
    figure.add_trace(
        _scatter(
            coords,
            mode="markers",
            name=trajectory.name,
            marker=dict(
                size=7 if main else 8,
                color=trajectory.times,
                colorscale="Viridis" if main else OVERLAY_TIME_SCALE,
                symbol=symbol.tolist(),
                showscale=main,
                colorbar=dict(title="time (s)", thickness=12) if main else None,
                line=dict(width=0 if main else 1, color=OVERLAY_COLOR),
            ),
            text=hover,
            customdata=frames,
            hoverinfo="text",
        )
    )


def _scatter(coords: np.ndarray, **kwargs) -> go.Scatter | go.Scatter3d:
    if coords.shape[1] == 3:
        return go.Scatter3d(x=coords[:, 0], y=coords[:, 1], z=coords[:, 2], **kwargs)
    return go.Scatter(x=coords[:, 0], y=coords[:, 1], **kwargs)


def _layout(figure: go.Figure, title: str, dims: int) -> None:
    figure.update_layout(
        title=title or None,
        template="plotly_white",
        height=520,
        margin=dict(l=10, r=10, t=40 if title else 10, b=10),
        legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0),
        uirevision="keep",  # keep the user's zoom and rotation when the highlight moves
    )
    if dims == 2:
        figure.update_xaxes(showticklabels=False, title=None)
        figure.update_yaxes(showticklabels=False, title=None, scaleanchor="x")
    else:
        axis = dict(showticklabels=False, title="")
        figure.update_layout(scene=dict(xaxis=axis, yaxis=axis, zaxis=axis))


def codebook_figure(
    codebook_coords: np.ndarray,
    action_coords: np.ndarray,
    codes: np.ndarray,
    names: list[str],
    centres: str = "codebook",
) -> go.Figure:
    """The K codebook vectors (large, numbered) and the clip's inferred action vectors, coloured by code;
    `names` [K] what each code is called (`WorldModel.code_names`), `centres` what the K vectors are."""
    figure = go.Figure()
    for code in np.unique(codes):
        mask = codes == code
        figure.add_trace(
            _scatter(
                action_coords[mask],
                mode="markers",
                name=f"{names[code]} ({mask.sum()})",
                marker=dict(size=5, color=code_color(int(code)), opacity=0.55),
                text=[f"transition {t} → {t + 1}<br>{names[code]}" for t in np.flatnonzero(mask)],
                hoverinfo="text",
            )
        )
    figure.add_trace(
        _scatter(
            codebook_coords,
            mode="markers+text",
            name=centres,
            marker=dict(
                size=16,
                color=[code_color(k) for k in range(len(codebook_coords))],
                symbol="diamond",
                line=dict(color="black", width=1.5),
            ),
            text=names[: len(codebook_coords)],
            textposition="top center",
            hovertext=[f"{names[k]}: its vector" for k in range(len(codebook_coords))],
            hoverinfo="text",
        )
    )
    _layout(figure, "", dims=codebook_coords.shape[1])
    return figure


def code_usage_figure(codes: np.ndarray, names: list[str], perplexity: float, word: str = "code") -> go.Figure:
    """Transitions per code [K]; `word` what one code is ("code", "button", "cluster")."""
    codebook_size = len(names)
    counts = np.bincount(np.asarray(codes, dtype=np.int64), minlength=codebook_size)
    figure = go.Figure(
        go.Bar(
            x=names,
            y=counts,
            marker_color=[code_color(k) for k in range(codebook_size)],
            hovertemplate="%{x}: %{y} transitions<extra></extra>",
        )
    )
    figure.update_layout(
        title=f"{word.capitalize()} usage · perplexity {perplexity:.2f} of {codebook_size}",
        template="plotly_white",
        height=300,
        margin=dict(l=10, r=10, t=40, b=10),
        xaxis_title=word,
        yaxis_title="transitions",
    )
    return figure


def code_timeline_figure(codes: np.ndarray, times: np.ndarray, names: list[str], word: str = "code") -> go.Figure:
    """One coloured tick per transition along the clip's time axis, in one lane per code (named by `names`; `word`
    what one code is)."""
    codes = np.asarray(codes, dtype=np.int64)
    codebook_size = len(names)
    figure = go.Figure(
        go.Scatter(
            x=times[: len(codes)],
            y=codes,
            mode="markers",
            marker=dict(
                symbol="line-ns-open", size=TIMELINE_LANE * 0.8, color=[code_color(int(c)) for c in codes], line_width=3
            ),
            customdata=[names[c] for c in codes],
            hovertemplate="t=%{x:.2f} s<br>%{customdata}<extra></extra>",
        )
    )
    figure.update_layout(
        title=f"{word.capitalize()} timeline",
        template="plotly_white",
        height=90 + TIMELINE_LANE * codebook_size,
        margin=dict(l=10, r=10, t=40, b=10),
        xaxis_title="time (s)",
        yaxis=dict(
            tickmode="array",
            tickvals=list(range(codebook_size)),
            ticktext=names,
            range=[codebook_size - 0.5, -0.5],
        ),
    )
    return figure


def confusion_figure(matrix: np.ndarray, action_names: list[str], title: str, code_names: list[str]) -> go.Figure:
    """Counts [K, L] of code (rows, named by `code_names`) × true action (columns)."""
    figure = _counts_heatmap(matrix, action_names, code_names[: matrix.shape[0]], "%{y} · %{x}")
    figure.update_layout(title=title, xaxis_title="true action")
    return figure


def _counts_heatmap(matrix: np.ndarray, columns: list[str], rows: list[str], hover: str) -> go.Figure:
    """A heatmap of counts [R, C], each cell labelled with its count, the first row at the top."""
    figure = go.Figure(
        go.Heatmap(
            z=matrix,
            x=columns,
            y=rows,
            colorscale="Blues",
            text=matrix,
            texttemplate="%{text}",
            hovertemplate=hover + ": %{z}<extra></extra>",
        )
    )
    figure.update_layout(
        template="plotly_white", height=360, margin=dict(l=10, r=10, t=40, b=10), yaxis=dict(autorange="reversed")
    )
    return figure


def rollout_psnr_figure(branch_psnr: np.ndarray, copy_psnr: np.ndarray, labels: list[str]) -> go.Figure:
    """Per-step PSNR [B, S] of each branch against the clip, beside the copy-the-start-frame baseline [S]."""
    steps = np.arange(1, len(copy_psnr) + 1)
    figure = go.Figure()
    for b, (values, label) in enumerate(zip(branch_psnr, labels)):
        figure.add_trace(
            go.Scatter(x=steps, y=values, mode="lines+markers", name=label, line=dict(color=code_color(b)))
        )
    figure.add_trace(
        go.Scatter(
            x=steps, y=copy_psnr, mode="lines", name="copy of the start frame", line=dict(color="gray", dash="dash")
        )
    )
    figure.update_layout(
        title="PSNR against the clip, per step",
        template="plotly_white",
        height=320,
        margin=dict(l=10, r=10, t=40, b=10),
        xaxis_title="step",
        yaxis_title="PSNR (dB)",
        legend=dict(orientation="h", y=-0.25),
    )
    return figure


def probe_figure(result: ProbeResult, title: str) -> go.Figure:
    """Numbers: out-of-fold prediction against the truth, with the diagonal; categories: the counts of each
    predicted value (rows) against each true one (columns), over every value either takes."""
    truth, predicted = result.truth, result.predicted
    if result.kind == "number":
        low, high = float(min(truth.min(), predicted.min())), float(max(truth.max(), predicted.max()))
        figure = go.Figure(
            [
                go.Scatter(
                    x=truth,
                    y=predicted,
                    mode="markers",
                    name="frames",
                    marker=dict(size=5, opacity=0.6),
                    text=[f"frame {t}" for t in range(len(truth))],
                    hovertemplate="%{text}<br>true %{x:.3g} · predicted %{y:.3g}<extra></extra>",
                ),
                go.Scatter(
                    x=[low, high], y=[low, high], mode="lines", name="perfect", line=dict(color="gray", dash="dash")
                ),
            ]
        )
        figure.update_layout(
            xaxis_title="true",
            yaxis_title="predicted (held-out fold)",
            template="plotly_white",
            height=360,
            margin=dict(l=10, r=10, t=40, b=10),
        )
    else:
        counts, predicted_values, true_values = confusion_matrix(predicted.astype(str), truth.astype(str))
        values = np.union1d(predicted_values, true_values)
        matrix = np.zeros((len(values), len(values)), np.int64)  # [V, V]: a row and a column for every value
        matrix[np.ix_(np.searchsorted(values, predicted_values), np.searchsorted(values, true_values))] = counts
        figure = _counts_heatmap(matrix, list(values), list(values), "predicted %{y} · true %{x}")
        figure.update_layout(xaxis_title="true", yaxis_title="predicted (held-out fold)")
    figure.update_layout(title=title)
    return figure


SIDE_COLORS = ("rgb(0,114,178)", "rgb(213,94,0)")  # the Compare tab's sides A and B (blue, vermilion)


def code_usage_comparison_figure(usages: list[np.ndarray], names: list[str]) -> go.Figure:
    """Each side's share of transitions per code [K_i], as bars side by side; the codebooks may differ in size."""
    figure = go.Figure(
        [
            go.Bar(
                x=[str(k) for k in range(len(usage))],
                y=usage,
                name=name,
                marker_color=SIDE_COLORS[i % len(SIDE_COLORS)],
                hovertemplate=f"{name}<br>code %{{x}}: %{{y:.1%}} of transitions<extra></extra>",
            )
            for i, (usage, name) in enumerate(zip(usages, names))
        ]
    )
    figure.update_layout(
        title="Code usage on the clip",
        template="plotly_white",
        barmode="group",
        height=320,
        margin=dict(l=10, r=10, t=40, b=10),
        xaxis_title="code",
        yaxis=dict(title="share of transitions", tickformat=".0%"),
        legend=dict(orientation="h", y=-0.25),
    )
    return figure
