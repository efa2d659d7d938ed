"""The geosleuth agent: shared state, configuration, fusion and the CLI."""
