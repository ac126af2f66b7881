"""The scoped read API the dashboards call: every function takes a `Scope`, filters in SQL with
bound parameters, and returns a Polars frame. Nothing here runs without a scope."""
