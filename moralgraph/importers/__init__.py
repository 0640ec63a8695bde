"""Importers that load other projects' published data as studies."""
