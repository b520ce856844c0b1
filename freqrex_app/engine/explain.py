"""``explain``: the whole FreqReX pipeline, and ``FreqReX(model).attribute(...)``."""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np

from ..audio.clip import Audio
from ..audio.hearing import Hearing
from ..models.base import Classifier, check_classifier, differentiable
from .explanation import Explanation
from .decision import Decision
from .least_audible import SEARCHES, least_audible_flip
from .manipulations import flip_k, loudest_first
from .oracle import BudgetExhausted, Oracle
from .search import responsibility_search
from .sets import find_complete, find_necessary, find_sufficient
from .spaces import FrequencySpace, StftSpace

__all__ = ["EngineConfig", "FreqReX", "explain", "rank"]

#: ``progress(fraction in [0, 1], message)``; it may raise to cancel the explanation.
ProgressFn = Callable[[float, str], None]
#: ``partial(explanation so far)``: a copy as it stands; it may raise to cancel, like progress.
PartialFn = Callable[[Explanation], None]


@dataclass
class EngineConfig:
    """The method's parameters. Defaults follow SPEC sections 2-4; departures are measured in
    docs/method.md."""

    iterations: int | None = None    #: random partitions; None: from the budget (4 if unbounded)
    min_width: int = 1               #: smallest part, in bins
    fill: float = 0.0                #: value of removed bins / cells
    tolerance: float = 0.01          #: confidence tolerance of the complete set
    batch_size: int = 32             #: mutants per model call
    n_fft: int = 1024                #: STFT variant
    hop: int = 256
    verify: int = 16                 #: top-ranked bins tested one by one in the full clip (0: off)
    refine: int = 5                  #: bins chained greedily by measured joint removal (0: off)
    quiet_share: float = 0.45        #: share of a bounded budget for the two least audible flips
    quiet_budget: int = 300          #: ... and the queries of each when the budget is unbounded
    gradient_calls: int = 120        #: model calls of each gradient flip search at most
    flip_judge: str = "hearing"      #: gradient flips: the best candidate by "hearing" or "snr"
    reserve: int = 200               #: queries kept back for sets and flips (bounded budgets)
    max_nodes: int = 2000            #: safety cap on nodes per iteration

    def __post_init__(self) -> None:  # fail before any model query is spent
        if self.flip_judge not in ("snr", "hearing"):
            raise ValueError(f"flip_judge must be 'snr' or 'hearing', not {self.flip_judge!r}")
        if not 0.0 <= self.quiet_share < 1.0:
            raise ValueError(f"quiet_share must be in [0, 1), not {self.quiet_share!r}")


def rank(responsibility: np.ndarray, magnitude: np.ndarray, effect: np.ndarray | None = None,
         width: np.ndarray | None = None, order: np.ndarray | None = None) -> np.ndarray:
    """Features by responsibility, descending; with ``width`` (how coarse each measurement
    was: 1 is a feature measured alone, settled), the causes measured alone come first, then
    the rest, each by responsibility. Ties, when given: by ``width`` (smaller first), by ``order`` (a measured joint-removal order, smaller
    first), by effect (the measured drop of the label's margin, larger first); then by
    magnitude (larger first), then index."""
    r = np.asarray(responsibility, dtype=np.float64).ravel()
    keys = [np.arange(r.size), -np.asarray(magnitude, dtype=np.float64).ravel()]
    for key, sign in ((effect, -1), (order, 1), (width, 1)):
        if key is not None:
            keys.append(sign * np.asarray(key, dtype=np.float64).ravel())
    keys.append(-r)
    if width is not None:  # a cause measured alone before a part's unrefined estimate
        keys.append(~((np.asarray(width).ravel() == 1) & (r > 0)))
    return np.lexsort(keys).astype(np.int64)


def _as_audio(audio: Audio | np.ndarray | str | Path, sample_rate: int) -> Audio:
    if isinstance(audio, (str, Path)):
        from ..audio.io import load_audio
        return load_audio(audio, sample_rate=sample_rate)
    if isinstance(audio, np.ndarray):
        audio = Audio(audio, sample_rate)
    if not isinstance(audio, Audio):
        raise TypeError(f"audio must be an Audio, a numpy array or a path, not {type(audio).__name__}")
    if audio.sample_rate != sample_rate:
        import soxr
        samples = soxr.resample(audio.samples, audio.sample_rate, sample_rate, quality="VHQ")
        audio = Audio(samples.astype(np.float32), sample_rate, audio.start, audio.source,
                      {**audio.info, "resampled_from": audio.sample_rate})
    if audio.n_samples < 2:
        raise ValueError("audio is empty")
    if not np.all(np.isfinite(audio.samples)):
        raise ValueError("audio has non-finite samples (NaN or infinity)")
    return audio


class FreqReX:
    """Causal responsibility of frequencies for an audio classifier's decision.

    >>> exp = FreqReX(model).attribute(audio, budget=2000, seed=0)
    """

    def __init__(self, model: Classifier, config: EngineConfig | None = None, **settings):
        check_classifier(model)
        self.model = model
        self.config = config or EngineConfig(**settings)

    def attribute(self, audio: Audio | np.ndarray | str | Path, *, budget: int | None = None,
                  seed: int = 0, stft: bool = True, contrast: str | None = None,
                  flip_search: str = "auto", progress: ProgressFn | None = None,
                  partial: PartialFn | None = None) -> Explanation:
        """Explain the model's top-1 label for ``audio``. See :func:`explain`."""
        labels = list(self.model.labels)
        if contrast is not None and contrast not in labels:
            raise ValueError(f"contrast label {contrast!r} is not one of the model's labels: "
                             + ", ".join(labels))
        search = resolve_flip_search(self.model, flip_search)
        return _Run(self.model, self.config, budget, seed, stft, contrast, progress,
                    partial, search).run(_as_audio(audio, self.model.sample_rate))


def resolve_flip_search(model: Classifier, flip_search: str) -> str:
    """``"gradient"`` or ``"black-box"``: how the least audible flips are searched for
    ``model`` (``"auto"``: the gradient where the model is differentiable)."""
    if flip_search not in SEARCHES:
        raise ValueError(f"flip_search must be one of {', '.join(SEARCHES)}, not {flip_search!r}")
    if flip_search == "auto":
        return "gradient" if differentiable(model) else "black-box"
    if flip_search == "gradient" and not differentiable(model):
        raise ValueError(f"flip_search='gradient' needs a differentiable model (predict_torch); "
                         f"{getattr(model, 'name', type(model).__name__)!r} has none")
    return flip_search


def explain(audio: Audio | np.ndarray | str | Path, model: Classifier, *, budget: int | None = None,
            seed: int = 0, stft: bool = True, contrast: str | None = None,
            flip_search: str = "auto", progress: ProgressFn | None = None,
            partial: PartialFn | None = None, config: EngineConfig | None = None,
            **settings) -> Explanation:
    """Explain why ``model`` labels ``audio`` as it does (SPEC sections 2-4).

    ``budget`` caps the model queries of the whole explanation (None: unbounded); the search
    is anytime and says so in ``budget_exhausted``. ``stft`` adds the time-frequency variant.
    ``contrast`` names a foil label: "why this label and not the foil?". ``flip_search``
    chooses how the least audible flips are searched: ``"auto"`` (the margin's gradient where
    the model has ``predict_torch``, else black-box), ``"gradient"`` or ``"black-box"``; the
    causal analysis is always black-box. Extra keyword ``settings`` override
    :class:`EngineConfig` fields.

    ``progress(fraction, message)`` and ``partial(explanation)`` are optional callbacks; either
    may raise to cancel (the exception propagates). ``partial`` sees the work as it goes: a
    copy of the Explanation as it stands (what is not computed yet is None or empty), after
    every model call of the responsibility search (its map and ranking so far), then after
    the flip-k, the quiet flip, the STFT flip and the sets. It spends no model call.
    """
    return FreqReX(model, config, **settings).attribute(audio, budget=budget, seed=seed,
                                                        stft=stft, contrast=contrast,
                                                        flip_search=flip_search,
                                                        progress=progress, partial=partial)


class _Run:
    """One explanation: holds the oracle, the budget plan and the progress reporting."""

    def __init__(self, model, config: EngineConfig, budget, seed, stft, contrast, progress,
                 partial=None, flip_search: str = "black-box"):
        self.model, self.cfg, self.budget, self.seed = model, config, budget, int(seed)
        self.stft, self.contrast, self.progress, self.partial = stft, contrast, progress, partial
        self.flip_search = flip_search
        self.gradients, self.gradient_seconds = 0, 0.0
        self._black_box_calls: dict[int, float] = {1: 0.0, 2: 0.0}
        self.hearing: Hearing | None = None
        self._t0 = time.perf_counter()
        self.stage = "classifying"
        self.oracle = Oracle(model, budget, config.batch_size, on_query=self._on_query)
        self._stage_span = (0.0, 1.0)
        self._planned = budget  # the calls a bounded explanation expects to spend
        self._stage_start = 0
        self._done = 0.0

    # progress ------------------------------------------------------------------------------
    def _set_stage(self, name: str, lo: float, hi: float) -> None:
        self.stage, self._stage_span, self._stage_start = name, (lo, hi), self.oracle.queries
        self._on_query(self.oracle.queries)

    def _on_query(self, queries: int) -> None:
        if self.budget is not None:  # bounded: the share of the calls planned
            self._report(queries / self._planned)
        else:  # unbounded: creep towards the end of the stage
            lo, hi = self._stage_span
            done = queries - self._stage_start
            self._report(lo + (hi - lo) * (1.0 - 1.0 / (1.0 + done / 500.0)))

    def _report(self, frac: float) -> None:
        self._done = max(self._done, min(1.0, max(0.0, frac)))  # never goes backwards
        if self.progress is not None:
            self.progress(self._done, f"{self.stage} ({self.oracle.queries} model calls)")

    def _emit(self, exp: Explanation) -> None:
        """Show ``partial`` a copy of ``exp`` as it stands (no model call)."""
        if self.partial is not None:
            self.partial(replace(exp, notes=dict(exp.notes), queries=self.oracle.queries,
                                 predict_seconds=self.oracle.predict_seconds,
                                 seconds=time.perf_counter() - self._t0))

    # the pipeline --------------------------------------------------------------------------
    @property
    def _floor(self) -> int:
        """Queries the single-bin check and the refinement leave for the flips and the sets."""
        return 0 if self.budget is None else min(self.cfg.reserve, self.budget // 3)

    def _plan(self) -> tuple[float, float, float, int]:
        """Queries for the responsibility search, the quiet flip and the STFT flip."""
        cfg = self.cfg
        if self.budget is None:
            calls = cfg.quiet_budget if self.flip_search == "black-box" else cfg.gradient_calls
            self._black_box_calls = {1: cfg.quiet_budget, 2: cfg.quiet_budget}
            return math.inf, calls, calls, cfg.iterations or 4
        quiet = max(0.0, self.oracle.left - self._floor) * cfg.quiet_share
        stft = quiet * 0.55 if self.stft else 0.0
        self._black_box_calls = {1: quiet - stft, 2: stft}  # each flip's share, searched black-box
        # the single-bin check may take a third of the budget, less what the search needs to
        # start (a few binary splits)
        kept = self._floor + min(self._verify_cost(), max(0, self.budget // 3 - _SEARCH_MIN))
        search = max(0.0, self.oracle.left - kept - quiet)
        iterations = cfg.iterations or int(np.clip(search // 400, 1, 16))
        if self.flip_search == "gradient":  # the calls it does not need are not spent
            bins, cells = min(quiet - stft, cfg.gradient_calls), min(stft, cfg.gradient_calls)
            self._planned = max(1.0, self.budget - (quiet - stft - bins) - (stft - cells))
            return search, bins, cells, iterations
        return search, quiet - stft, stft, iterations

    def run(self, audio: Audio) -> Explanation:
        t0 = self._t0 = time.perf_counter()
        cfg, oracle, notes = self.cfg, self.oracle, {}
        x = audio.samples
        self.hearing = Hearing(x, audio.sample_rate)
        labels = list(self.model.labels)
        self._set_stage("classifying the clip", 0.0, 0.0)
        target, confidence, scores = oracle.classify_one(x)
        foil = None if self.contrast is None else labels.index(self.contrast)
        if foil == target:
            raise ValueError(f"the model already hears {self.contrast!r}: a contrast needs "
                             "another label than the clip's")
        decision = Decision(target, foil)
        root_margin = float(decision.margin(scores)[0])

        space = FrequencySpace(x, audio.sample_rate, cfg.fill)

        def explanation(responsibility: np.ndarray, ranking: np.ndarray) -> Explanation:
            return Explanation(
                model=self.model.name, labels_view=getattr(self.model, "labels_view", "all"),
                labels=labels, audio=audio, label=labels[target], label_index=target,
                confidence=confidence, scores=scores.astype(np.float32), seed=self.seed,
                budget=self.budget, queries=0, seconds=0.0, predict_seconds=0.0,
                budget_exhausted=False, responsibility=responsibility, ranking=ranking,
                magnitude=space.magnitude, power=space.power, config=asdict(cfg),
                contrast=self.contrast, flip_search=self.flip_search)

        def searching(resp: np.ndarray) -> None:  # the map so far, for ``partial``
            self._emit(explanation(resp, rank(resp, space.magnitude)))

        if self.partial is not None:  # the verdict at once, before the search's first call
            searching(np.zeros(space.n_features, dtype=np.float32))

        search_budget, quiet_budget, stft_budget, iterations = self._plan()
        self._set_stage("searching frequencies", 0.0, 0.5)
        found = responsibility_search(space, oracle, decision, seed=self.seed,
                                      budget=search_budget, iterations=iterations,
                                      min_width=cfg.min_width, max_nodes=cfg.max_nodes,
                                      extend=cfg.iterations is None,
                                      root_margin=root_margin,
                                      on_update=searching if self.partial else None)
        exhausted = found.budget_exhausted
        ranking = rank(found.responsibility, space.magnitude, found.effect, _coarseness(found))
        try:
            ranking = self._verify(space, found, ranking, decision, root_margin)
        except BudgetExhausted:
            notes["verify"] = "single-bin check skipped: the budget was spent"
        search = {"frequency": _stats(found)}

        exp = explanation(found.responsibility, ranking)
        exp.budget_exhausted, exp.search, exp.notes = exhausted, search, notes

        self._set_stage("flipping the top frequencies", 0.5, 0.55)
        self._attempt(exp, "flips", self._flips, exp, space, ranking, decision)
        self._emit(exp)
        self._set_stage("finding the least audible change", 0.55, 0.7)
        quiet = dict(budget=quiet_budget, clip_scores=scores)
        self._attempt(exp, "quiet_flip", self._quiet_flip, exp, space, decision, quiet)
        self._emit(exp)
        if self.stft:
            try:
                stft_space = StftSpace(x, audio.sample_rate, cfg.n_fft, cfg.hop, cfg.fill)
            except ValueError as exc:
                notes["stft_flip"] = str(exc)
            else:
                exp.stft = {"n_fft": cfg.n_fft, "hop": cfg.hop, "shape": list(stft_space.shape)}
                self._set_stage("finding the least audible time-frequency change", 0.7, 0.85)
                quiet = dict(quiet, budget=stft_budget)
                self._attempt(exp, "stft_flip", self._stft_flip, exp, stft_space, decision, quiet)
                self._emit(exp)
        self._set_stage("finding the sufficient and necessary sets", 0.85, 1.0)
        self._attempt(exp, "sufficient", self._sufficient, exp, space, ranking, decision)
        self._attempt(exp, "necessary", self._necessary, exp, space, ranking, decision)
        self._attempt(exp, "complete", self._complete, exp, space, ranking, decision)
        self._set_stage("judging how audible each change is", 1.0, 1.0)
        exp.audibility = {name: self.hearing.judge(wave) for name, wave in exp.waves().items()
                          if name != "original"}
        exp.search["audibility"] = {"sounds": self.hearing.judged}
        exp.hearing_seconds = self.hearing.seconds
        if not self.hearing.available:
            notes["audibility"] = "zimtohrli is not installed: audibility by SNR alone"
        exp.gradients, exp.gradient_seconds = self.gradients, self.gradient_seconds
        self._emit(exp)

        exp.queries = oracle.queries
        exp.predict_seconds = oracle.predict_seconds
        exp.seconds = time.perf_counter() - t0
        self._report(1.0)
        return exp

    def _verify_cost(self) -> int:
        """Model calls of the single-bin check and the greedy chain (upper bound)."""
        cfg = self.cfg
        if not cfg.verify:
            return 0
        pool = min(_REFINE_POOL, cfg.verify + _VERIFY_LOUDEST)
        chain = min(cfg.refine, pool)
        greedy = sum(max(0, pool - j) for j in range(1, chain))
        return cfg.verify + _VERIFY_LOUDEST + greedy + 2 * chain + 1

    def _verify(self, space, found, ranking, decision: Decision, root_margin) -> np.ndarray:
        """Measure the top bins' responsibility in the full clip itself; re-rank.

        Each candidate (the top-ranked bins and the loudest) is removed alone: one whose
        removal changes the decision has degree 1 (k = 0), measured at single-bin width. The
        greedy chain (``refine``) then removes bins together; where it first changes the
        decision, the bins it needed get their exact degree (``_witnessed``). A degree
        measured with a witness of bins in the clip replaces the search's estimate, whose
        witnesses are parts (a part may hold several causes); the chain's order breaks ties.
        The measured margin drops are added to the effect map.
        """
        cfg = self.cfg
        if not cfg.verify:
            return ranking
        loud = np.argsort(-space.magnitude, kind="stable")[:_VERIFY_LOUDEST]
        candidates = list(dict.fromkeys([*ranking[:cfg.verify].tolist(), *loud.tolist()]))
        candidates = candidates[:max(0, int(min(len(candidates), self.oracle.left - self._floor)))]
        if not candidates:
            return ranking
        out = self.oracle.classify(np.stack([space.remove(np.array([b])) for b in candidates]))
        drop = root_margin - decision.margin(out.scores)
        measured = {b: 1.0 for b, flipped in zip(candidates, decision.changed(out.scores))
                    if flipped}
        for b, d in zip(candidates, drop):
            found.effect[b] += d
        order = None
        if cfg.refine > 0:
            pool = [candidates[i] for i in np.argsort(-drop, kind="stable")[:_REFINE_POOL]]
            chain, degrees = self._refine(space, pool, decision, set(measured))
            for b, deg in degrees.items():
                measured[b] = max(measured.get(b, 0.0), deg)
            order = np.full(space.n_features, len(chain), dtype=np.int64)
            order[chain] = np.arange(len(chain))
        for b, deg in measured.items():  # a witness of bins in the clip, not of parts
            found.responsibility[b], found.width[b], found.settled[b] = deg, 1, True
        return rank(found.responsibility, space.magnitude, found.effect, _coarseness(found),
                    order)

    def _refine(self, space, pool: list[int], decision: Decision,
                alone: set[int]) -> tuple[list[int], dict[int, float]]:
        """Greedy removal: each next bin is the one of ``pool`` whose removal, together with
        the bins already chosen, leaves the lowest margin. The first is the best single bin.

        Returns the chain and the degrees measured on its first m bins, where removing them
        first changes the decision (m >= 2; see ``_witnessed``). Stops early (with what it has)
        when the next round would eat into the queries kept for the flips and sets. ``alone``:
        the bins of ``pool`` whose removal alone changes the decision.
        """
        chosen, rest = pool[:1], pool[1:]
        flipped_at = 1 if chosen[0] in alone else 0
        while (rest and len(chosen) < self.cfg.refine
               and self.oracle.left - len(rest) >= self._floor):
            out = self.oracle.classify(
                np.stack([space.remove(np.array([*chosen, b])) for b in rest]))
            best = int(np.argmin(decision.margin(out.scores)))
            chosen.append(rest.pop(best))
            if not flipped_at and decision.changed(out.scores[best])[0]:
                flipped_at = len(chosen)
        degrees = self._witnessed(space, chosen[:flipped_at], decision) if flipped_at > 1 else {}
        return chosen, degrees

    def _witnessed(self, space, flipping: list[int], decision: Decision) -> dict[int, float]:
        """Exact degrees from a set of bins whose joint removal changes the decision.

        S is the bins of ``flipping`` each of which is needed (the others removed without it
        keep the decision); when S is smaller, its own removal is checked to change the
        decision and S less any one bin to keep it. Then every bin of S has degree 1/|S|,
        with W the rest of S. At most 2 |flipping| + 1 calls, which may take up to half of the
        queries kept for the flips and sets (none when that is not enough).
        """
        def changed(sets: list[list[int]]) -> np.ndarray:
            out = self.oracle.classify(np.stack([space.remove(np.array(b)) for b in sets]))
            return decision.changed(out.scores)

        if self.oracle.left - (2 * len(flipping) + 1) < self._floor // 2:
            return {}
        without = changed([[c for c in flipping if c != b] for b in flipping])
        needed = [b for b, ch in zip(flipping, without) if not ch]
        if len(needed) < 2:
            return {}
        if len(needed) < len(flipping):
            check = changed([needed] + [[c for c in needed if c != b] for b in needed])
            if not check[0] or check[1:].any():
                return {}
        return {b: 1.0 / len(needed) for b in needed}

    # the sets and manipulations: each may run out of budget or find nothing -----------------
    def _attempt(self, exp: Explanation, name: str, step, *args) -> None:
        try:
            step(*args)
        except BudgetExhausted:
            exp.notes[name] = f"not computed: the budget of {self.budget} model calls was spent"
            exp.budget_exhausted = True
        except _NotFound as exc:
            exp.notes[name] = str(exc)

    def _flips(self, exp, space, ranking, decision) -> None:
        exp.flips = flip_k(space, self.oracle, ranking, decision)

    def _least_audible(self, space, decision, settings):
        first = settings
        if self.flip_search == "gradient" and self.cfg.flip_judge == "hearing":
            first = {**settings, "less_audible": self.hearing.less_audible}
        start = self.oracle.queries
        found = least_audible_flip(space, self.oracle, decision, search=self.flip_search,
                                   model=self.model, **first)
        self.gradients += found.gradients
        self.gradient_seconds += found.gradient_seconds
        if found.flip is None and self.flip_search == "gradient":
            # no flip along the gradient (a flat or masked gradient): the black-box search
            # takes the rest of this flip's share, and its flip says so (search "black-box")
            left = self._black_box_calls[space.ndim] - (self.oracle.queries - start)
            if left >= 1:
                other = least_audible_flip(space, self.oracle, decision, search="black-box",
                                           **{**settings, "budget": left})
                if other.flip is not None:
                    return other
        return found

    def _quiet_flip(self, exp, space, decision, settings) -> None:
        try:
            found = self._least_audible(space, decision, settings).flip
        except BudgetExhausted:
            if not any(f.flipped for f in exp.flips or []):
                raise
            found = None
        # a flip-k that flipped is a set of bins too: the quiet flip is the least audible of all
        # the verified flips (the quiet search's own, and flip-1..5, loudest bins first), judged
        # by the model of hearing
        candidates = [found] if found is not None else []
        candidates += [replace(f, index=loudest_first(space, f.index))
                       for f in exp.flips or [] if f.flipped]
        exp.quiet_flip = min(candidates, key=lambda f: self.hearing.judge(f.wave).key(),
                             default=None)
        _require(exp.quiet_flip, _NO_QUIET_FLIP)

    def _stft_flip(self, exp, stft_space, decision, settings) -> None:
        found = self._least_audible(stft_space, decision, settings)
        exp.stft_flip, exp.stft_margin_drop = found.flip, found.drop_map
        _require(exp.stft_flip, _NO_QUIET_FLIP)

    def _sufficient(self, exp, space, ranking, decision) -> None:
        exp.sufficient = _require(find_sufficient(space, self.oracle, ranking, decision),
                                  "no prefix of the ranking keeps the label")

    def _necessary(self, exp, space, ranking, decision) -> None:
        start = exp.sufficient.index.shape[0] if exp.sufficient is not None else 1
        exp.necessary = _require(
            find_necessary(space, self.oracle, ranking, decision, start=start),
            "no prefix of the ranking both keeps the label and, removed, changes it")

    def _complete(self, exp, space, ranking, decision) -> None:
        if exp.necessary is None:
            raise _NotFound("needs the sufficient-and-necessary set, which was not found")
        exp.complete, exp.adjustment = _require(
            find_complete(space, self.oracle, ranking, decision, exp.necessary.index,
                          exp.confidence, self.cfg.tolerance),
            "no adjustment set restores the original confidence")


_VERIFY_LOUDEST = 8   # the loudest bins tested one by one beside the top-ranked ones
_SEARCH_MIN = 9       # queries the search keeps from the single-bin check: 3 binary splits
_REFINE_POOL = 10     # the greedy refinement chooses among this many tested bins
_NO_QUIET_FLIP = "no change the search tried flipped the decision within the budget"


class _NotFound(Exception):
    pass


def _require(value, reason: str):
    if value is None:
        raise _NotFound(reason)
    return value


def _coarseness(found) -> np.ndarray:
    """The ranking's first tie-break: settled measurements first, then finer parts."""
    return found.width + np.where(found.settled, 0, found.width.size + 1)


def _stats(found) -> dict:
    d = asdict(found)
    for key in ("responsibility", "width", "settled", "effect"):
        d.pop(key)
    return d
