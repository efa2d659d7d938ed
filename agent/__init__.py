"""geosleuth: work out where a photo was taken by reading, looking and checking, then committing.

The package is layered, each layer importing only those below it (docs/architecture.md):
`geosleuth.core` (the Evidence/Belief/Guess vocabulary, settings, geography, photo loading),
`geosleuth.tools` (one module per tool, each with its ToolSpec), `geosleuth.run` (fusion, the agent
graph, planners, LLM backends, traces), `geosleuth.evals` (datasets, runner, metrics, reports) and
`geosleuth.app` (the command line, bench suites, doctor and viewers).
"""
