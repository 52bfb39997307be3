"""The analyses: each reads one trace (or, to compare texts, one model) and returns numbers,
tables and sentences; no drawing. Rule: analysis imports core (and data's task definitions)."""

from .claims import (
    FROZEN,
    FROZEN_SPAN,
    HIGH,
    HOLDS,
    LONG_HOLD,
    LOW,
    MOSTLY,
    REWRITTEN,
    SHOWN_HOLDERS,
    Claim,
    default_span_start,
    exact_claim,
    first_step_claim,
    gradient_claims,
    held,
    hold_start,
    hold_starts,
    memory_claims,
    number_claim,
    reset_claims,
    saturation_answer,
    saturation_claim,
    share,
    shares,
    signed,
    span_counts,
    span_picture,
    state,
)
from .example import MAX_STEPS, MAX_UNITS, WorkedExample, worked_example
from .explain import (
    StepCard,
    balance,
    contributions,
    heatmaps,
    one_hot_column,
    step_card,
    step_cards,
    trace_table,
)
from .gradients import jacobian_norms, rnn_jacobian_norms
from .memory import direct_path, holders, min_z, retention, retention_curve
from .notation import (
    LATEX,
    NAMES,
    SYMBOLS,
    count_of,
    course_bias,
    course_candidate,
    fmt,
    fmt_e,
    fmt_near,
    fmt_num,
    pct,
    shown_update,
    tex_num,
    tex_term,
)
from .reset import ResetCounterfactual, reset_counterfactual
from .saturation import exact_counts, fractions, histogram, saturation
from .summary import StepSummary, sentence, step_summary, unit_order
from .terms import RESET, TERMS, cell_terms
from .units import (
    clause_difference,
    clause_start,
    minimal_pair_of,
    number_units,
    were_minus_was,
)
from .whatif import WhatIf, what_if
from .wires import WIRES, step_terms

__all__ = [
    "FROZEN", "FROZEN_SPAN", "HIGH", "LONG_HOLD", "LOW", "MOSTLY", "REWRITTEN", "Claim",
    "default_span_start",
    "first_step_claim", "gradient_claims", "hold_start", "memory_claims", "reset_claims",
    "saturation_claim", "shares",
    "span_counts", "state", "SHOWN_HOLDERS", "exact_claim", "held", "hold_starts",
    "number_claim", "saturation_answer", "share", "signed", "span_picture", "exact_counts", "min_z",
    "count_of", "StepSummary", "WhatIf", "sentence", "step_summary", "unit_order",
    "what_if", "HOLDS", "SYMBOLS",
    "LATEX", "NAMES", "fmt", "fmt_e", "fmt_near", "fmt_num", "pct", "tex_num", "tex_term",
    "shown_update", "ResetCounterfactual", "StepCard", "balance",
    "MAX_STEPS", "MAX_UNITS", "WorkedExample", "worked_example",
    "clause_difference", "clause_start", "contributions", "course_bias", "course_candidate",
    "direct_path", "fractions", "heatmaps", "histogram", "holders",
    "jacobian_norms", "minimal_pair_of", "number_units", "one_hot_column", "reset_counterfactual",
    "retention", "retention_curve", "rnn_jacobian_norms", "saturation", "step_card",
    "step_cards", "trace_table",
    "were_minus_was", "WIRES", "step_terms", "RESET", "TERMS", "cell_terms",
]
