"""Evaluation of explanations on real music against baselines (SPEC section 8)."""
