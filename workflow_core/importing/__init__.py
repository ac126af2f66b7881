"""Real, externally recorded event logs (XES, CSV) imported into the event store as processes.

`xes.read_xes` and `csv_log.read_csv` parse and validate a whole file into a `model.ParsedLog`
(nothing is written while parsing); `loader.import_log` then writes it in one transaction.
"""
