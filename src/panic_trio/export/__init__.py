"""Exporting a run as a self-contained ``.zip`` gallery (see :mod:`.exporter`)."""

from panic_trio.export.exporter import (
    RunExporter,
    export_filename,
    prepare_export,
    write_export,
)

__all__ = ["RunExporter", "export_filename", "prepare_export", "write_export"]
