"""Search over serving configurations (spec §5): plan, frontier, break-even, executors."""

from costcorrect.search.executor import EXECUTORS, make_executor
from costcorrect.search.plan import Plan, plan
from costcorrect.search.space import Candidate, SearchSpace, candidates

__all__ = ["EXECUTORS", "Candidate", "Plan", "SearchSpace", "candidates", "make_executor", "plan"]
