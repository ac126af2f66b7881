"""Pure figure builders for the pages: `(frame, lang, ...) -> go.Figure`, no I/O."""
