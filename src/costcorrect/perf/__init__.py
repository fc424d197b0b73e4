"""How long one prefill or decode iteration takes on given GPUs (op-level roofline).

>>> from costcorrect.perf import Batch, Deployment, step_time
>>> dep = Deployment.from_names("llama-3.1-70b", "H100-SXM", tp=8)
>>> step_time(dep, Batch.decode(batch=64, context=2048)).total_s
"""

from costcorrect.perf.batch import Batch
from costcorrect.perf.deployment import Deployment
from costcorrect.perf.roofline import StepTime, step_time

__all__ = ["Batch", "Deployment", "StepTime", "step_time"]
