"""The bundled example repository."""
