"""The analyses: each reads one trace (or, to compare texts, one model) and returns numbers,
tables and sentences; no drawing. Rule: analysis imports core (and data's task definitions)."""

from .example import MAX_STEPS, MAX_UNITS, WorkedExample, worked_example
from .explain import (
    StepCard,
    balance,
    contributions,
    heatmaps,
    one_hot_column,
    step_card,
    trace_table,
)
from .gradients import describe_flow, jacobian_norms, rnn_jacobian_norms
from .memory import HOLDS, MOVES, direct_path, held_and_moved, holders, retention, retention_curve
from .notation import SYMBOLS, course_bias, course_candidate
from .reset import ResetCounterfactual, reset_counterfactual
from .saturation import describe, fractions, histogram, saturation
from .summary import StepSummary, count_of, sentence, step_summary, unit_order
from .units import (
    clause_difference,
    clause_start,
    minimal_pair_of,
    number_units,
    were_minus_was,
)
from .whatif import WhatIf, what_if

__all__ = [
    "MAX_STEPS", "MAX_UNITS", "WorkedExample", "worked_example",
    "count_of", "describe_flow", "StepSummary", "WhatIf", "sentence", "step_summary", "unit_order",
    "what_if", "HOLDS", "MOVES", "SYMBOLS", "ResetCounterfactual", "StepCard", "balance",
    "clause_difference", "clause_start", "contributions", "course_bias", "course_candidate",
    "describe", "direct_path", "fractions", "heatmaps", "held_and_moved", "histogram", "holders",
    "jacobian_norms", "minimal_pair_of", "number_units", "one_hot_column", "reset_counterfactual",
    "retention", "retention_curve", "rnn_jacobian_norms", "saturation", "step_card", "trace_table",
    "were_minus_was",
]
