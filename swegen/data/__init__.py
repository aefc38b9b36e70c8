"""Data shipped with swegen: the table of published SWE-bench scores (see README.md here)."""
