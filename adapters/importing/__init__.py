"""Historical import (历史案件导入): past cases from another system's CSV or JSON-lines export.

A mapping file (YAML, see docs/import/README.md) says which source column is which of
our fields, how the source's statuses map to how far a case got in our lifecycle, which
source time stamps each step took place at, and how source categories, agencies and
areas map to our categories, member units and grid cells.

Every row becomes one case through the ordinary service checks, with the source's own
times as `occurred_at`; a row's events are saved together (all or nothing), many rows
per transaction. The case id is uuid5(EXTERNAL_NS, "source:<source>:<external id>"), so
a re-run imports nothing twice. A row that cannot be imported is reported with its row
number and the reason.

mapping.py: the Mapping; readers.py: the file and its rows; planner.py: one record → a
RowPlan; runner.py: Importer.run and its ImportReport.
"""

from adapters.importing.mapping import Mapping
from adapters.importing.planner import PATH, Planner, RowPlan, SkipRow
from adapters.importing.readers import Source, count_rows, load_source, read_rows
from adapters.importing.runner import Importer, ImportReport

__all__ = ["PATH", "ImportReport", "Importer", "Mapping", "Planner", "RowPlan", "SkipRow", "Source",
           "count_rows", "load_source", "read_rows"]
