"""The geosleuth tools: one module per tool, each a typed function returning Evidence."""
