"""Export the log for a clinician's spreadsheet (CSV) or another program (JSON).

CSV holds one table (sets by default: one row per set, the columns a spreadsheet
wants). JSON holds everything, or the one table asked for: the payloads as they
arrived plus the ratings and the rejected-message counts, with the schema version so
a reader knows the shape. Rows come oldest first, as a training diary reads. A set
struck from the history is still exported: the CSV's ``struck`` column and the JSON's
``struck`` list say when and why, so a clinician sees what was taken out.
"""

from __future__ import annotations

import csv
import json
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:          # the store (SQLite and the payload code) loads only to export
    from .store import Store

FORMATS = ("csv", "json")
TABLES = ("sets", "reps", "holds", "pain", "stiffness", "activity", "heel_rise_tests",
          "rejected")
_PAYLOADS = ("sets", "reps", "holds", "heel_rise_tests")


def export(store: Store, fmt: str, out: TextIO, table: str | None = None) -> int:
    """Write the log to ``out`` as ``fmt``; returns the number of rows written (JSON of
    everything: the number of sets). ``table`` None is sets for CSV, everything for JSON."""
    if table is not None and table not in TABLES:
        raise ValueError(f"unknown table {table!r} (known: {', '.join(TABLES)})")
    if fmt == "csv":
        names, rows = store.rows(table or "sets")
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(names)
        writer.writerows(rows)
        return len(rows)
    if fmt == "json":
        from .store import SCHEMA_VERSION

        doc: dict = {"v": 1, "schema_version": SCHEMA_VERSION}
        for name in (table,) if table else TABLES:
            doc[name] = _json_table(store, name)
        if table in (None, "sets"):
            doc["struck"] = [{k: row[k] for k in ("id", "struck", "struck_reason")}
                             for row in _json_table(store, "sets_rows") if row["struck"]]
        json.dump(doc, out, indent=1)
        out.write("\n")
        return len(doc[table or "sets"])
    raise ValueError(f"unknown export format {fmt!r} (known: {', '.join(FORMATS)})")


def _json_table(store: Store, name: str) -> list[dict]:
    """A table as JSON objects: the payloads as they arrived, or the columns (``sets_rows``:
    the sets' columns, which say which are struck)."""
    if name in _PAYLOADS:
        return store.payloads(name)
    names, rows = store.rows(name.removesuffix("_rows"))
    return [dict(zip(names, row, strict=True)) for row in rows]
