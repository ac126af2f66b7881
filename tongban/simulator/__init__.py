"""The university traffic simulator: a year of hall history through the workflow core."""
