"""What hardware, models, workloads, prices and calibrations exist — validated, sourced, dated."""

from costcorrect.catalog.loader import Catalog, Table, load_catalog

__all__ = ["Catalog", "Table", "load_catalog"]
