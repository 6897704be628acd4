"""Tables, plot and the key=value line of the replication benchmark.

    python bench/replicate/report.py docs/replication.json [--md docs/replication.md] [--png docs/replication.png]

Re-creates the Markdown and the PNG from a results JSON written by replicate.py.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, Dict, List, Tuple

import numpy as np

ORDER = ("uga_score", "entropy", "mutual_information", "random")
LABELS = {
    "uga_score": "UGA score (fg-weighted entropy)",
    "entropy": "mean entropy",
    "mutual_information": "mean mutual information",
    "random": "random",
}

Summary = Dict[Tuple[str, int], Dict[str, float]]


def summarise(result: Dict[str, Any], field: str = "dice") -> Summary:
    """(strategy, k) -> mean, std (population over seeds), min, max, n."""
    groups: Dict[Tuple[str, int], List[float]] = {}
    for r in result["results"]:
        groups.setdefault((r["strategy"], int(r["k"])), []).append(float(r[field]))
    out: Summary = {}
    for key, vals in groups.items():
        v = np.asarray(vals)
        out[key] = {"mean": float(v.mean()), "std": float(v.std()), "min": float(v.min()), "max": float(v.max()), "n": int(v.size)}
    return out


def strategies_of(result: Dict[str, Any]) -> List[str]:
    present = {r["strategy"] for r in result["results"]}
    return [s for s in ORDER if s in present]


def ks_of(result: Dict[str, Any]) -> List[int]:
    return sorted({int(r["k"]) for r in result["results"]})


def markdown_table(result: Dict[str, Any], field: str = "dice") -> str:
    s = summarise(result, field)
    ks = ks_of(result)
    head = "| strategy | " + " | ".join(f"K = {k}" for k in ks) + " |"
    sep = "| --- |" + " --- |" * len(ks)
    lines = [head, sep]
    for strat in strategies_of(result):
        cells = []
        for k in ks:
            c = s.get((strat, k))
            cells.append("–" if c is None else f"{c['mean']:.3f} ± {c['std']:.3f} [{c['min']:.3f}, {c['max']:.3f}]")
        lines.append(f"| {LABELS.get(strat, strat)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def gain_table(result: Dict[str, Any]) -> str:
    """Mean over seeds of (guided - random) at each K > 0, with how many seeds the guided one won."""
    ks = [k for k in ks_of(result) if k > 0]
    by = {(r["strategy"], int(r["k"]), int(r["seed"])): float(r["dice"]) for r in result["results"]}
    seeds = sorted({int(r["seed"]) for r in result["results"]})
    lines = ["| strategy − random | " + " | ".join(f"K = {k}" for k in ks) + " |", "| --- |" + " --- |" * len(ks)]
    for strat in strategies_of(result):
        if strat == "random":
            continue
        cells = []
        for k in ks:
            d = [by[(strat, k, sd)] - by[("random", k, sd)] for sd in seeds if (strat, k, sd) in by and ("random", k, sd) in by]
            cells.append("–" if not d else f"{np.mean(d):+.3f} (wins {sum(x > 0 for x in d)}/{len(d)})")
        lines.append(f"| {LABELS.get(strat, strat)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def class_table(result: Dict[str, Any]) -> str:
    """Mean gland / background Dice per strategy and K."""
    fg, bg = summarise(result, "dice_fg"), summarise(result, "dice_bg")
    ks = ks_of(result)
    lines = ["| strategy | " + " | ".join(f"K = {k}: gland / background" for k in ks) + " |", "| --- |" + " --- |" * len(ks)]
    for strat in strategies_of(result):
        cells = [f"{fg[(strat, k)]['mean']:.3f} / {bg[(strat, k)]['mean']:.3f}" if (strat, k) in fg else "–" for k in ks]
        lines.append(f"| {LABELS.get(strat, strat)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def picked_table(result: Dict[str, Any]) -> str:
    """What each strategy picked: share of the picked pixels the starting model got wrong."""
    rows = [r for r in result["results"] if int(r["k"]) > 0 and "picked_error_rate" in r]
    if not rows:
        return ""
    ks = sorted({int(r["k"]) for r in rows})
    lines = ["| strategy | " + " | ".join(f"K = {k}: wrong px / gland px / tiles" for k in ks) + " |", "| --- |" + " --- |" * len(ks)]
    for strat in strategies_of(result):
        cells = []
        for k in ks:
            sel = [r for r in rows if r["strategy"] == strat and int(r["k"]) == k]
            if not sel:
                cells.append("–")
                continue
            cells.append(
                f"{np.mean([r['picked_error_rate'] for r in sel]):.3f} / {np.mean([r['picked_gland_fraction'] for r in sel]):.2f} / "
                f"{np.mean([r['picked_tiles'] for r in sel]):.1f}"
            )
        lines.append(f"| {LABELS.get(strat, strat)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(result: Dict[str, Any], png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = summarise(result)
    ks = ks_of(result)
    colours = {"uga_score": "#c0392b", "entropy": "#e67e22", "mutual_information": "#8e44ad", "random": "#2c3e50"}
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    for strat in strategies_of(result):
        xs = [k for k in ks if (strat, k) in s]
        m = np.array([s[(strat, k)]["mean"] for k in xs])
        sd = np.array([s[(strat, k)]["std"] for k in xs])
        c = colours.get(strat, None)
        ax.plot(xs, m, marker="o", color=c, label=LABELS.get(strat, strat), linestyle="--" if strat == "random" else "-")
        ax.fill_between(xs, m - sd, m + sd, color=c, alpha=0.15)
    setup = result.get("setup", {})
    n_seeds = len({r["seed"] for r in result["results"]})
    ax.set_xlabel(f"corrected patches K ({setup.get('patch_size', '?')} px each)")
    ax.set_ylabel("test Dice (mean of background and gland)")
    ax.set_xticks(ks)
    split = setup.get("split", {})
    ax.set_title(
        f"EBHI-Seg target domain: {split.get('test_tiles', '?')} test tiles, mean ± std over {n_seeds} seeds",
        fontsize=10,
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9)
    fig.tight_layout()
    fig.savefig(png)
    plt.close(fig)


def results_markdown(result: Dict[str, Any]) -> str:
    setup = result.get("setup", {})
    split = setup.get("split", {})
    ft = setup.get("finetune", {})
    eng = setup.get("engine", {})
    return "\n".join([
        f"Metric: {result['metric']}. Cells: mean ± std (population, over seeds) [min, max].",
        "",
        markdown_table(result),
        "",
        "Gain over random at the same seed (mean of the per-seed differences; wins = seeds where the guided strategy scored higher):",
        "",
        gain_table(result),
        "",
        "Per class (mean over seeds):",
        "",
        class_table(result),
        "",
        "What was picked (mean over seeds): share of the corrected pixels that the starting model had wrong, "
        "share of gland pixels, distinct tiles:",
        "",
        picked_table(result),
        "",
        f"Setup: pool {split.get('pool_tiles')} tiles / test {split.get('test_tiles')} tiles (target-dev split by case, "
        f"seed {split.get('seed')}); engine {eng.get('backend')} T={eng.get('samples')} (prefix cached: {eng.get('cachesPrefix')}), "
        f"pool pass {eng.get('seconds')} s; corrected patch {setup.get('patch_size')} px; fine-tune {ft.get('steps')} steps, "
        f"lr {ft.get('lr')}, batch {ft.get('batch_size')} with replay ratio {ft.get('replay_ratio')} over {ft.get('replay_tiles')} "
        f"source tiles, mean {setup.get('finetune_seconds_mean')} s per fine-tune; whole run {setup.get('seconds')} s"
        f"{' (--quick)' if setup.get('quick') else ''}.",
    ])


def write_reports(result: Dict[str, Any], md: Path, png: Path) -> Summary:
    """The generated part of docs/replication.md goes between markers so hand-written text around it survives."""
    begin, end = "<!-- replication-results:begin -->", "<!-- replication-results:end -->"
    block = f"{begin}\n{results_markdown(result)}\n{end}"
    if md.is_file() and begin in md.read_text() and end in md.read_text():
        text = md.read_text()
        text = text[: text.index(begin)] + block + text[text.index(end) + len(end) :]
    else:
        text = f"# UGA replication — results\n\n![Dice vs corrected patches]({png.name})\n\n{block}\n"
    md.write_text(text)
    plot(result, png)
    return summarise(result)


def keyvalue_line(result: Dict[str, Any], summary: Summary) -> str:
    ks = ks_of(result)
    parts = []
    k0 = [v["mean"] for (s, k), v in summary.items() if k == 0]
    if k0:
        parts.append(f"dice_k0={np.mean(k0):.4f}")
    short = {"uga_score": "uga", "entropy": "entropy", "mutual_information": "mi", "random": "random"}
    for k in ks:
        if k == 0:
            continue
        for strat in strategies_of(result):
            if (strat, k) in summary:
                parts.append(f"dice_{short[strat]}_k{k}={summary[(strat, k)]['mean']:.4f}")
        if ("uga_score", k) in summary and ("random", k) in summary:
            parts.append(f"gain_uga_vs_random_k{k}={summary[('uga_score', k)]['mean'] - summary[('random', k)]['mean']:+.4f}")
    setup = result.get("setup", {})
    if "seconds" in setup:
        parts.append(f"seconds={setup['seconds']}")
    return " ".join(parts)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("json")
    p.add_argument("--md", default=None)
    p.add_argument("--png", default=None)
    a = p.parse_args()
    src = Path(a.json)
    result = json.loads(src.read_text())
    md = Path(a.md) if a.md else src.with_suffix(".md")
    png = Path(a.png) if a.png else src.with_suffix(".png")
    summary = write_reports(result, md, png)
    print(keyvalue_line(result, summary))


if __name__ == "__main__":
    main()
