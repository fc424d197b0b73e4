"""The building blocks of the report's HTML: a plotly figure without its bundle, a y = x line,
and a table (every cell escaped)."""

from __future__ import annotations

import html

import plotly.graph_objects as go


def fig_html(fig: go.Figure, div_id: str) -> str:
    """``fig`` as a ``<div id=div_id>`` (plotly's bundle is inlined once by the page)."""
    fig.update_layout(
        template="plotly_white", height=420, margin={"l": 60, "r": 20, "t": 50, "b": 50}
    )
    return fig.to_html(
        full_html=False, include_plotlyjs=False, div_id=div_id, config={"displaylogo": False}
    )


def add_diagonal(fig: go.Figure, low: float, high: float, name: str) -> None:
    """A black y = x line from ``low`` to ``high`` (no hover) labelled ``name``."""
    fig.add_scatter(
        x=[low, high],
        y=[low, high],
        mode="lines",
        line={"color": "black"},
        name=name,
        hoverinfo="skip",
    )


def table_html(header: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"
