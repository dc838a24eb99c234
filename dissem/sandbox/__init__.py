"""A local stand-in for every platform's API, for demos, training and tests.

``start_sandbox()`` runs it in-process; ``dissem sandbox`` runs it from the command line.
See :mod:`dissem.sandbox.core` for how a platform's stand-in is written.
"""

from dissem.sandbox.faults import Fault, FaultPlan, parse_faults
from dissem.sandbox.server import RunningSandbox, start_sandbox

__all__ = ["Fault", "FaultPlan", "RunningSandbox", "parse_faults", "start_sandbox"]
