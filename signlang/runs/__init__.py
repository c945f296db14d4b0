"""The run folder as files: what it holds (``record.py``), the writer (``folder.py``), checkpoint files,
provenance, a sweep's job list, and reading runs back into a table (``table.py``)."""
