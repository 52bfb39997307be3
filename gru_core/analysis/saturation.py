"""Do gates saturate? Per unit, the fraction of steps a gate spends near 0 and near 1.

"left" is the fraction of steps with value < low, "right" the fraction > high (Karpathy, Johnson &
Fei-Fei 2015, "Visualizing and Understanding Recurrent Networks", Fig. 3).
"""

from __future__ import annotations

import pandas as pd
import torch

from ..core import Trace


def saturation(trace: Trace, low: float = 0.1, high: float = 0.9) -> pd.DataFrame:
    rows = []
    for (layer, direction) in trace.layer_directions:
        for gate in ("r", "z"):
            g = trace.gate(gate, layer, direction)  # (T, H)
            left = (g < low).double().mean(0)
            right = (g > high).double().mean(0)
            rows.append(pd.DataFrame({
                "gate": gate, "layer": layer, "direction": direction,
                "unit": range(g.shape[1]), "left": left.numpy(), "right": right.numpy(),
            }))
    return pd.concat(rows, ignore_index=True)


def fractions(trace: Trace, gate: str, layer: int = 0, low: float = 0.1, high: float = 0.9
              ) -> dict[str, float]:
    """Share of all (step, unit) values of a gate below low, between, and above high."""
    g = torch.cat([trace.gate(gate, layer, d) for d in range(trace.config.num_directions)])
    below, above = float((g < low).double().mean()), float((g > high).double().mean())
    return {"below": below, "between": 1.0 - below - above, "above": above}


def histogram(trace: Trace, gate: str, layer: int = 0, bins: int = 40) -> pd.DataFrame:
    """Counts of a gate's values over all steps and units, in equal bins on [0, 1]."""
    g = torch.cat([trace.gate(gate, layer, d) for d in range(trace.config.num_directions)])
    counts = torch.histc(g.double().flatten(), bins=bins, min=0.0, max=1.0)
    edges = torch.linspace(0, 1, bins + 1, dtype=torch.float64)
    return pd.DataFrame({"left": edges[:-1].numpy(), "right": edges[1:].numpy(),
                         "share": (counts / counts.sum()).numpy()})


def describe(gate: str, f: dict[str, float], low: float = 0.1, high: float = 0.9) -> str:
    """One sentence that answers "do the gates go to 0/1 or stay grey?" from the fractions."""
    near = f["below"] + f["above"]
    verdict = ("mostly saturated" if near >= 0.5 else
               "mostly grey" if near < 0.25 else "partly saturated")
    return (f"{gate}: {f['below']:.0%} of values are below {low}, {f['above']:.0%} above "
            f"{high}, {f['between']:.0%} in between — {verdict}.")
