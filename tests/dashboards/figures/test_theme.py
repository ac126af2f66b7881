"""Every figure the pages draw goes to the browser on the plotly_white theme, though no builder
names it on the figure (naming it there cost 7-14 ms a figure)."""

from __future__ import annotations

import plotly.graph_objects as go
import plotly.io as pio

from dashboards.figures import process, registration, turnaround


def test_figures_are_serialised_with_the_plotly_white_theme() -> None:
    drawn = [
        registration.empty_figure("zh"),
        turnaround._layout(go.Figure(), height=300),
        process._layout(go.Figure(), height=300),
    ]
    theme = pio.templates["plotly_white"].to_plotly_json()
    for figure in drawn:
        assert figure.to_plotly_json()["layout"]["template"] == theme
