"""dissem's tests: a package, so shared helpers import as ``tests.<area>.<module>``."""
