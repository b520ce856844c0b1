"""The causal engine: responsibility over frequencies, the sets, and the manipulations."""
from .explain import EngineConfig, FreqReX, explain, rank
from .explanation import AUDIO_FILES, Explanation
from .load import load_explanation
from .oracle import BudgetExhausted, ModelError, Oracle
from .perturbation import KINDS, Kind, Perturbation

__all__ = ["AUDIO_FILES", "KINDS", "BudgetExhausted", "EngineConfig", "Explanation",
           "FreqReX", "Kind", "ModelError", "Oracle", "Perturbation", "explain", "load_explanation",
           "rank"]
