"""Allow `python -m agent` as a synonym of the `geosleuth` command."""

from agent.cli import main

main()
