"""Every unit at one step, the way the forum's mentor explained it: how many units kept their
value, how many took the candidate, which changed most, each in a sentence from its numbers.

    "when z_34 at index 9 is 0, h_34 takes the candidate completely (−0.12) … when z_34 at
     index 0 is 0.94, h_34 retains h_33 (0.84 → 0.82)"

PyTorch's z is the share of h_prev kept (z > KEEP: kept); the course's Γu = 1 − z is the share
of the candidate taken (Γu > 1 − TAKE, i.e. z < TAKE: took the candidate).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import torch

from ..core import Trace
from .claims import HIGH, LOW
from .notation import SYMBOLS, fmt, fmt_near, pct, shown_update

KEEP, TAKE = HIGH, LOW  # z saturated near 1: kept; near 0: took the candidate


@dataclass
class StepSummary:
    t: int
    units: int  # H
    kept: int  # z > KEEP
    took: int  # z < TAKE
    mixed: int
    changed: pd.DataFrame  # the units whose h moved most: unit, h_prev, h, change, z, n
    held: pd.DataFrame  # the units with the largest z, the same columns

    def headline(self, notation: str = "pytorch") -> str:
        z = "z" if notation == "pytorch" else "Γu"
        keep, take = ((f"{z} > {KEEP}", f"{z} < {TAKE}") if notation == "pytorch"
                      else (f"{z} < {1 - KEEP:.1f}", f"{z} > {1 - TAKE:.1f}"))
        return (f"At t = {self.t}, {self.kept} of the {self.units} units kept their value "
                f"({keep}), {self.took} took the candidate ({take}) and {self.mixed} mixed "
                "the two.")

    @property
    def listed(self) -> pd.DataFrame:
        """The units worth a sentence: most changed first, then the best holders not yet in."""
        return pd.concat([self.changed, self.held[~self.held.unit.isin(self.changed.unit)]],
                         ignore_index=True)

    def sentences(self, notation: str = "pytorch") -> list[str]:
        """One sentence per listed unit."""
        return [sentence(row, notation) for row in self.listed.itertuples()]


def step_summary(trace: Trace, t: int, layer: int = 0, direction: int = 0, top: int = 3
                 ) -> StepSummary:
    z, n, h_prev, h = (trace.gate(k, layer, direction, t).double()
                       for k in ("z", "n", "h_prev", "h"))
    kept, took = int((z > KEEP).sum()), int((z < TAKE).sum())
    table = pd.DataFrame({"unit": range(len(z)), "h_prev": h_prev.numpy(), "h": h.numpy(),
                          "change": (h - h_prev).numpy(), "z": z.numpy(), "n": n.numpy()})
    k = min(top, len(z))
    changed = table.iloc[(h - h_prev).abs().topk(k).indices.numpy()].reset_index(drop=True)
    held = table.iloc[z.topk(min(2, len(z))).indices.numpy()].reset_index(drop=True)
    return StepSummary(t, len(z), kept, took, len(z) - kept - took, changed, held)


def sentence(row, notation: str = "pytorch") -> str:
    """'unit 9: z = 0.00, so h takes the candidate: 0.19 → −0.12', from one unit's numbers."""
    h, h_prev, n, u = (SYMBOLS[notation][k] for k in ("h", "h_prev", "n", "u"))
    gate = f"{u} = {fmt_near(shown_update(row.z, notation), 2)}"
    move = f"{num(row.h_prev)} → {num(row.h)}"
    if row.z > KEEP:
        what = f"{h} keeps {pct(row.z)} of {h_prev}: {move}"
    elif row.z < TAKE:
        what = f"{h} takes the candidate {n} = {num(row.n)}: {move}"
    elif row.h_prev == 0:  # a zero old state: nothing of it is kept, whatever z says
        what = (f"{h} is {1 - row.z:.0%} of the candidate {n} = {num(row.n)} ({h_prev} is "
                f"zero): {move}")
    else:
        what = (f"{h} mixes {h_prev} ({row.z:.0%} kept) with "
                f"{n} = {num(row.n)}: {move}")
    return f"unit {row.unit}: {gate}, so {what}"


def num(v: float) -> str:
    return fmt(v, 2)


def unit_order(trace: Trace, how: str, layer: int = 0, direction: int = 0,
               steps: slice = slice(None)) -> list[int]:
    """Units in the order the heatmaps list them: "index"; "mean z" (the units that hold most,
    first); "similarity" (by the leading principal direction of their h over the steps, so
    units that move together sit together)."""
    H = trace.config.hidden_size
    if how == "index":
        return list(range(H))
    if how == "mean z":
        return trace.gate("z", layer, direction, steps).double().mean(0).argsort(
            descending=True).tolist()
    if how == "similarity":
        h = trace.gate("h", layer, direction, steps).double().t()  # (H, steps)
        h = h - h.mean(1, keepdim=True)
        if h.shape[1] < 2:
            return list(range(H))
        u = torch.linalg.svd(h, full_matrices=False).U[:, 0]
        return u.argsort().tolist()
    raise ValueError(f"unknown order {how!r}: index, mean z or similarity")
