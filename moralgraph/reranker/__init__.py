"""The values reranker: a pure library (no Django); torch is optional and imported lazily."""
