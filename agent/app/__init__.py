"""The app layer: the `geosleuth` command line, bench suites, doctor and the trace viewer."""
