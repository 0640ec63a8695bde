"""Operability: probes, Prometheus metrics, structured logs with request and interview ids."""
