"""Export the log for a clinician's spreadsheet (CSV) or another program (JSON).

CSV holds one table (sets by default: one row per set, the columns a spreadsheet
wants). JSON holds everything: the payloads as they arrived plus the ratings and
the rejected-message counts, with the schema version so a reader knows the shape.
"""

from __future__ import annotations

import csv
import json
from typing import TextIO

from .store import SCHEMA_VERSION, Store

FORMATS = ("csv", "json")
TABLES = ("sets", "reps", "holds", "pain", "stiffness", "rejected")


def export(store: Store, fmt: str, out: TextIO, table: str = "sets") -> int:
    """Write the log to ``out`` as ``fmt``; returns the number of rows (or sets) written."""
    if fmt == "csv":
        if table not in TABLES:
            raise ValueError(f"unknown table {table!r} (known: {', '.join(TABLES)})")
        names, rows = store.rows(table)
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(names)
        writer.writerows(rows)
        return len(rows)
    if fmt == "json":
        doc = {"v": 1, "schema_version": SCHEMA_VERSION,
               "sets": store.payloads("sets"), "reps": store.payloads("reps"),
               "holds": store.payloads("holds")}
        for name in ("pain", "stiffness", "rejected"):
            names, rows = store.rows(name)
            doc[name] = [dict(zip(names, row, strict=True)) for row in rows]
        json.dump(doc, out, indent=1)
        out.write("\n")
        return len(doc["sets"])
    raise ValueError(f"unknown export format {fmt!r} (known: {', '.join(FORMATS)})")
