"""Allow `python -m geosleuth` as a synonym of the `geosleuth` command."""

from geosleuth.app.cli import main

main()
