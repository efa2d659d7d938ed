"""The geosleuth evaluation harness."""
