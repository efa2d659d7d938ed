"""The core layer: the Evidence/Belief/Guess vocabulary, run state, settings, geography, photos, caches.

It imports nothing else of geosleuth; every other layer builds on it.
"""
