"""The run layer: fusion, the agent graph and its nodes, the planners, LLM backends, traces and chat.

It imports the core and the tools, never the evals or the app.
"""
