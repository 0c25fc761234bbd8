"""Scripts that draw the docs' figures, and demos.

The figure scripts import `examples.figures`: run them from the repository
root as `python -m examples.probabilistic` (`make figures` runs them all).
"""
