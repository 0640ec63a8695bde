"""Fakes of external systems, spoken to over their real wire protocols."""
