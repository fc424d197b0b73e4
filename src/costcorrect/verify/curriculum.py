"""The verifier as curriculum (setter–solver–verifier self-play, VHG-style): a setter proposes
tasks with a reference answer, a verifier checks them, a solver attempts them, and the setter
is rewarded when the verifier accepts a task and the solver fails it:

    R = 1[verifier accepts] × (1 − solver correct).

A task is sound with probability q (its reference answer is right) and flawed otherwise. The
verifier accepts a sound task with probability 1 − r (r: false-reject rate) and a flawed one
with probability f (false-accept rate); the solver matches a sound task's reference with
probability s and a flawed one's (wrong) reference with probability s_f. Per proposed task

    E[R | sound]  = (1 − r)(1 − s),      E[R | flawed] = f (1 − s_f),
    E[R]          = q (1 − r)(1 − s) + (1 − q) f (1 − s_f),

and the share of rewarded tasks — the examples the solver trains on — that are flawed is
(1 − q) f (1 − s_f) / E[R]. The setter gains by proposing flawed tasks once
f (1 − s_f) > (1 − r)(1 − s): as the solver gets better at sound tasks, a verifier that
accepts some flawed ones makes flawed tasks the better bet, and the curriculum drifts toward
them. :func:`self_play` simulates that drift (seeded); :func:`curriculum_cost` prices the
verifier's third place in the ledger — its calls per training example kept — in the training
channel of the allocation threshold."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

import numpy as np

from costcorrect.allocate.threshold import AllocationDecision, allocation_threshold
from costcorrect.errors import InputError


@dataclass(frozen=True)
class Verifier:
    """A verifier's error rates on the setter's tasks: false accept (a flawed task passes) and
    false reject (a sound task fails)."""

    false_accept: float
    false_reject: float

    def __post_init__(self) -> None:
        _fraction("false_accept", self.false_accept)
        _fraction("false_reject", self.false_reject)


def _fraction(name: str, value: float) -> None:
    if not (isinstance(value, int | float) and 0.0 <= value <= 1.0):
        raise InputError(name, value, "a probability in [0, 1]")


@dataclass(frozen=True)
class SetterReward:
    """Closed form of the setter's reward per proposed task and what it trains the solver on."""

    sound_share: float  # q: share of proposed tasks that are sound
    solver_accuracy: float  # s: solver correct on a sound task
    flawed_match: float  # s_f: solver matches a flawed task's wrong reference
    verifier: Verifier

    @property
    def reward_sound(self) -> float:
        """E[R | sound task] = (1 − r)(1 − s)."""
        return (1.0 - self.verifier.false_reject) * (1.0 - self.solver_accuracy)

    @property
    def reward_flawed(self) -> float:
        """E[R | flawed task] = f (1 − s_f)."""
        return self.verifier.false_accept * (1.0 - self.flawed_match)

    @property
    def expected_reward(self) -> float:
        q = self.sound_share
        return q * self.reward_sound + (1.0 - q) * self.reward_flawed

    @property
    def accepted_share(self) -> float:
        """P(the verifier accepts a proposed task)."""
        v, q = self.verifier, self.sound_share
        return q * (1.0 - v.false_reject) + (1.0 - q) * v.false_accept

    @property
    def corrupted_share(self) -> float:
        """Share of rewarded tasks (the solver's training examples) that are flawed."""
        reward = self.expected_reward
        return (1.0 - self.sound_share) * self.reward_flawed / reward if reward > 0 else 0.0

    @property
    def flawed_pays_more(self) -> bool:
        """Whether a flawed task earns the setter more than a sound one."""
        return self.reward_flawed > self.reward_sound

    def to_dict(self) -> dict:
        out = asdict(self)
        for name in (
            "reward_sound",
            "reward_flawed",
            "expected_reward",
            "accepted_share",
            "corrupted_share",
            "flawed_pays_more",
        ):
            out[name] = getattr(self, name)
        return out


def setter_reward(
    sound_share: float, solver_accuracy: float, verifier: Verifier, flawed_match: float = 0.0
) -> SetterReward:
    """:class:`SetterReward` with its inputs checked (probabilities in [0, 1])."""
    for name, value in (
        ("sound_share", sound_share),
        ("solver_accuracy", solver_accuracy),
        ("flawed_match", flawed_match),
    ):
        _fraction(name, value)
    return SetterReward(sound_share, solver_accuracy, flawed_match, verifier)


def _propose(rng: np.random.Generator, tasks: int, reward: SetterReward):
    """One batch of proposed tasks under ``reward``'s shares and rates: which are sound,
    accepted by the verifier and solved (boolean arrays)."""
    v = reward.verifier
    sound = rng.random(tasks) < reward.sound_share
    accept = np.where(
        sound, rng.random(tasks) >= v.false_reject, rng.random(tasks) < v.false_accept
    )
    solved = np.where(
        sound,
        rng.random(tasks) < reward.solver_accuracy,
        rng.random(tasks) < reward.flawed_match,
    )
    return sound, accept, solved


def sample_rewards(reward: SetterReward, tasks: int, seed: int = 0) -> dict[str, float]:
    """Monte Carlo of ``tasks`` proposed tasks (seeded): the mean setter reward, accepted share
    and flawed share among rewarded tasks, to set beside the closed form."""
    if not (isinstance(tasks, int) and tasks >= 1):
        raise InputError("tasks", tasks, "a positive number of tasks")
    rng = np.random.default_rng(seed)
    sound, accept, solved = _propose(rng, tasks, reward)
    rewarded = accept & ~solved
    return {
        "expected_reward": float(rewarded.mean()),
        "accepted_share": float(accept.mean()),
        "corrupted_share": float((rewarded & ~sound).sum() / max(rewarded.sum(), 1)),
    }


@dataclass(frozen=True)
class SelfPlay:
    """A self-play run, one row per round: the setter's sound share, the solver's accuracy on
    sound tasks and the flawed share of that round's training examples."""

    sound_share: np.ndarray
    solver_accuracy: np.ndarray
    corrupted_share: np.ndarray
    verifier: Verifier

    def to_frame(self):
        """One row per round."""
        import pandas as pd

        return pd.DataFrame(
            {
                "round": np.arange(1, self.sound_share.size + 1),
                "sound_share": self.sound_share,
                "solver_accuracy": self.solver_accuracy,
                "corrupted_share": self.corrupted_share,
            }
        )

    def first_round_corrupted_above(self, share: float) -> int | None:
        """The first round (1-based) whose training examples were more than ``share``
        flawed, None if none was."""
        above = np.flatnonzero(self.corrupted_share > share)
        return int(above[0]) + 1 if above.size else None

    def to_dict(self) -> dict:
        return {
            "verifier": asdict(self.verifier),
            "sound_share": self.sound_share.tolist(),
            "solver_accuracy": self.solver_accuracy.tolist(),
            "corrupted_share": self.corrupted_share.tolist(),
        }


def self_play(
    verifier: Verifier,
    rounds: int = 200,
    tasks: int = 500,
    sound_share: float = 0.9,
    solver_accuracy: float = 0.3,
    flawed_match: float = 0.0,
    setter_rate: float = 2.0,
    learning_rate: float = 0.05,
    seed: int = 0,
) -> SelfPlay:
    """Setter–solver–verifier self-play (seeded). Each round the setter proposes ``tasks``
    tasks, sound with its current share q; the rewarded ones train the solver. The setter
    follows its reward (replicator step: q ← q + ``setter_rate``·q(1 − q)(R̄_sound − R̄_flawed)
    on the round's sampled rewards); the solver's error on sound tasks shrinks by
    ``learning_rate`` × the share of the round's proposals that were rewarded sound tasks and
    grows by the same rate × the share that were rewarded flawed ones (it learns wrong
    answers)."""
    if not (isinstance(rounds, int) and rounds >= 1):
        raise InputError("rounds", rounds, "a positive number of rounds")
    for name, value in (("setter_rate", setter_rate), ("learning_rate", learning_rate)):
        if not (math.isfinite(value) and value >= 0):
            raise InputError(name, value, "a rate ≥ 0")
    reward = setter_reward(sound_share, solver_accuracy, verifier, flawed_match)
    rng = np.random.default_rng(seed)
    q, s = reward.sound_share, reward.solver_accuracy
    shares, accuracies, corrupted = (np.empty(rounds) for _ in range(3))
    for t in range(rounds):
        sound, accept, solved = _propose(
            rng, tasks, replace(reward, sound_share=q, solver_accuracy=s)
        )
        rewarded = accept & ~solved
        good, bad = (rewarded & sound).sum(), (rewarded & ~sound).sum()
        mean_sound = good / max(sound.sum(), 1)
        mean_flawed = bad / max((~sound).sum(), 1)
        q = float(
            np.clip(q + setter_rate * q * (1 - q) * (mean_sound - mean_flawed), 1e-3, 1 - 1e-3)
        )
        error = (1.0 - s) * (1.0 - learning_rate * good / tasks) + learning_rate * bad / tasks * s
        s = float(np.clip(1.0 - error, 0.0, 1.0))
        shares[t], accuracies[t] = q, s
        corrupted[t] = bad / max(good + bad, 1)
    return SelfPlay(shares, accuracies, corrupted, verifier)


@dataclass(frozen=True)
class CurriculumCost:
    """The verifier's third place in the ledger: what one clean training example costs when
    every proposed task is set, verified and attempted, and what that does to the allocation
    threshold's training side."""

    reward: SetterReward
    setter_usd: float  # $ per proposed task
    verifier_usd: float  # $ per verification call
    solver_usd: float  # $ per solver attempt
    examples: float  # clean training examples the training run needs
    verifier_calls_per_example: float
    usd_per_clean_example: float
    verifier_share: float  # the verifier's share of that cost
    decision: AllocationDecision | None

    def to_dict(self) -> dict:
        out = asdict(self)
        out["reward"] = self.reward.to_dict()
        out["decision"] = self.decision.to_dict() if self.decision else None
        return out


def curriculum_cost(
    reward: SetterReward,
    setter_usd: float,
    verifier_usd: float,
    solver_usd: float,
    examples: float,
    eta_rollouts: float | None = None,
    eta_training: float | None = None,
    inference_spend: float | None = None,
    other_training_spend: float = 0.0,
) -> CurriculumCost:
    """Price generated training data: each proposed task costs a setter call, a verifier call
    and a solver attempt; the kept ones are the rewarded tasks, of which 1 − corrupted are
    clean. Verifier calls per clean example = 1 / (E[R]·(1 − corrupted)). With the two
    elasticities and the inference spend, the allocation threshold is evaluated with the
    training spend D_T = ``examples`` × $ per clean example + ``other_training_spend`` (the
    flawed examples bought along are paid for, not learned from)."""
    for name, value in (
        ("setter_usd", setter_usd),
        ("verifier_usd", verifier_usd),
        ("solver_usd", solver_usd),
        ("other_training_spend", other_training_spend),
    ):
        if not (math.isfinite(value) and value >= 0):
            raise InputError(name, value, "a cost ≥ 0 in $")
    if not (math.isfinite(examples) and examples > 0):
        raise InputError("examples", examples, "a positive number of training examples")
    clean_rate = reward.expected_reward * (1.0 - reward.corrupted_share)
    if clean_rate <= 0:
        raise InputError(
            "solver_accuracy", reward.solver_accuracy, "a setup in which some sound task pays"
        )
    calls = 1.0 / clean_rate
    per_example = (setter_usd + verifier_usd + solver_usd) * calls
    share = verifier_usd / (setter_usd + verifier_usd + solver_usd) if per_example > 0 else 0.0
    threshold_inputs = {
        "eta_rollouts": eta_rollouts,
        "eta_training": eta_training,
        "inference_spend": inference_spend,
    }
    missing = [name for name, value in threshold_inputs.items() if value is None]
    if 0 < len(missing) < len(threshold_inputs):
        raise InputError(
            missing[0],
            "missing",
            "all of eta_rollouts, eta_training and "
            "inference_spend for the allocation threshold, or none",
        )
    decision = None
    if not missing:
        training = examples * per_example + other_training_spend
        decision = allocation_threshold(eta_rollouts, eta_training, inference_spend, training)
    return CurriculumCost(
        reward, setter_usd, verifier_usd, solver_usd, examples, calls, per_example, share, decision
    )


def break_even_accuracy(verifier: Verifier, flawed_match: float = 0.0) -> float:
    """The solver accuracy on sound tasks above which a flawed task earns the setter more than a
    sound one: s* = 1 − f (1 − s_f) / (1 − r) (0 when even a fresh solver is beaten)."""
    if verifier.false_reject >= 1.0:
        return 0.0
    pays = verifier.false_accept * (1.0 - flawed_match) / (1.0 - verifier.false_reject)
    return max(0.0, 1.0 - pays)
