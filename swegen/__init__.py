"""swegen: build a private, SWE-bench-style coding eval from a repository's own git history."""

__version__ = "0.1.0"
