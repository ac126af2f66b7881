"""The warehouse tests' fixtures live in `tests/warehouse/university.py`, a plugin of the root
conftest shared with the dashboards tests; these names stay importable from here."""

from tests.warehouse.university import (
    AS_OF,
    SIMULATED_END,
    TONGBAN,
    BuiltUniversity,
    build_warehouse,
)

__all__ = ["AS_OF", "SIMULATED_END", "TONGBAN", "BuiltUniversity", "build_warehouse"]
