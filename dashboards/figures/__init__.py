"""Pure figure builders for the pages: `(frame, lang, ...) -> go.Figure`, no I/O."""

import plotly.io as pio

# Every figure is drawn on plotly_white. As plotly's default it is put into a figure when the
# figure is serialised (0.5 ms); named in each figure's layout it was validated and copied there
# (7-14 ms a figure, most of what drawing an overview of three figures cost).
pio.templates.default = "plotly_white"
