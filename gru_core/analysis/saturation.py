"""Do gates saturate? Per unit, the fraction of steps a gate spends near 0 and near 1.

"left" is the fraction of steps with value < low, "right" the fraction > high (Karpathy, Johnson &
Fei-Fei 2015, "Visualizing and Understanding Recurrent Networks", Fig. 3).
"""

from __future__ import annotations

import pandas as pd
import torch

from ..core import Trace


def saturation(trace: Trace, low: float = 0.1, high: float = 0.9,
               gates: tuple[str, ...] = ("r", "z")) -> pd.DataFrame:
    """Per (gate, layer, direction, unit): left and right fractions; gate "u" is Γu = 1 − z."""
    rows = []
    for (layer, direction) in trace.layer_directions:
        for gate in gates:
            g = trace.gate("z" if gate == "u" else gate, layer, direction)  # (T, H)
            g = 1 - g if gate == "u" else g
            left = (g < low).double().mean(0)
            right = (g > high).double().mean(0)
            rows.append(pd.DataFrame({
                "gate": gate, "layer": layer, "direction": direction,
                "unit": range(g.shape[1]), "left": left.numpy(), "right": right.numpy(),
            }))
    return pd.concat(rows, ignore_index=True)


def fractions(trace: Trace, gate: str, layer: int = 0, low: float = 0.1, high: float = 0.9
              ) -> dict[str, float]:
    """Share of all (step, unit) values of a gate below low, between, and above high. gate "u"
    is the course's Γu = 1 − z (its shares near 0 and near 1 are z's, swapped)."""
    g = _values(trace, gate, layer)
    below, above = float((g < low).double().mean()), float((g > high).double().mean())
    return {"below": below, "between": 1.0 - below - above, "above": above}


def histogram(trace: Trace, gate: str, layer: int = 0, bins: int = 40) -> pd.DataFrame:
    """Counts of a gate's values over all steps and units, in equal bins on [0, 1] (gate "u":
    Γu = 1 − z)."""
    g = _values(trace, gate, layer)
    counts = torch.histc(g.double().flatten(), bins=bins, min=0.0, max=1.0)
    edges = torch.linspace(0, 1, bins + 1, dtype=torch.float64)
    return pd.DataFrame({"left": edges[:-1].numpy(), "right": edges[1:].numpy(),
                         "share": (counts / counts.sum()).numpy()})


def _values(trace: Trace, gate: str, layer: int) -> torch.Tensor:
    """Every (step, unit) value of r, z, or the course's Γu = 1 − z, over all directions."""
    g = torch.cat([trace.gate("z" if gate == "u" else gate, layer, d)
                   for d in range(trace.config.num_directions)])
    return 1 - g if gate == "u" else g


def exact_counts(trace: Trace, gate: str, layer: int = 0) -> dict:
    """How many (step, unit) values of a gate are exactly 0.0 and exactly 1.0 as the trace
    stores them (its own dtype: float32 for a float32 model), of how many. Γu ("u") is counted
    on the model's own z, which it stores (Γu is exactly 0 where z is exactly 1): computing
    1 − z here would round a z below ~3e-8 to a Γu of exactly 1 that the model never has."""
    g = _values(trace, "z" if gate == "u" else gate, layer)
    zeros, ones = int((g == 0).sum()), int((g == 1).sum())
    if gate == "u":
        zeros, ones = ones, zeros
    return {"zeros": zeros, "ones": ones, "total": g.numel(),
            "dtype": str(g.dtype).removeprefix("torch.")}
