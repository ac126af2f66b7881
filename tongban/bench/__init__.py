"""`tongban bench`: each stage of the hall measured on this machine against its target.

A stage runs the real thing (the production API server, `tongban simulate`, the Dagster job,
the sensor, the dashboards over HTTP, the process report) on a university of the chosen size,
measures the named limit or peer in the same run, and writes `bench/results/<stage>.json`.
"""
