"""Request and response shapes (pydantic v2).

Requests are validated models (every bad field reported at once, for per-field 422s); responses
are TypedDicts encoded without re-validation, which measured ~2x cheaper than building models
(benchmarks/serialisation.py). Both give the JSON Schemas that the OpenAPI document is built from.
"""
