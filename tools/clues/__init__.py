"""The sub-clues of the text_clues tool, one module per kind of clue.

Each module has a function returning `Clue`s (`geosleuth.tools.clues.base`) for the text it is
given; `geosleuth.tools.text_clues` runs them all and pools them.
"""
