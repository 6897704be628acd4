"""Tables, plot and the key=value line of the replication benchmark.

    python bench/replicate/report.py docs/replication.json [--md docs/replication.md] [--png docs/replication.png]

Re-creates the Markdown and the PNG from a results JSON written by replicate.py
(also from <work>/partial.json of a run still going). Two sections: the
current setting (``setting`` = "new-pathology") and, kept under ``previous``,
the earlier EBHI-GTXC stain-shift table (``setting`` = "ebhi-gtxc"), rendered
by the functions marked "GTXC" below.
"""
from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

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


def gtxc_keyvalue_line(result: Dict[str, Any], summary: Summary) -> str:
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


# ============================================================================ new-pathology setting

NEW_ORDER = ("uga_code", "uga_code_diverse", "entropy", "mutual_information", "uga_score", "random")
NEW_LABELS = {
    "uga_code": "UGA code score",
    "uga_code_diverse": "UGA code score, spread over cases",
    "entropy": "mean entropy",
    "mutual_information": "mean mutual information",
    "uga_score": "engine uga_score",
    "random": "random",
    "all_pool": "all pool tiles (ceiling)",
}


def sign_test_p(wins: int, losses: int) -> float:
    """Two-sided exact sign test, ties dropped."""
    from math import comb

    n = wins + losses
    if n == 0:
        return 1.0
    k = min(wins, losses)
    return float(min(1.0, 2 * sum(comb(n, i) for i in range(k + 1)) / 2 ** n))


def _main_rows(result, recipe: str) -> List[Dict[str, Any]]:
    return [r for r in result["results"] if r["recipe"] == recipe and r["strategy"] != "all_pool"]


def cells(result, recipe: str, field: str = "dice") -> Dict[Tuple[int, str, int], List[float]]:
    out: Dict[Tuple[int, str, int], List[float]] = {}
    for r in _main_rows(result, recipe):
        if field in r:
            out.setdefault((int(r["patch"]), r["strategy"], int(r["k"])), []).append(float(r[field]))
    return out


def paired(result, recipe: str, size: int, strategy: str, k: int, field: str = "dice") -> List[float]:
    """Seed-matched differences strategy - random (same split seed, same fine-tune seed)."""
    by = {(r["split_seed"], r["seed"], r["strategy"]): float(r[field]) for r in _main_rows(result, recipe)
          if int(r["patch"]) == size and int(r["k"]) == k and field in r}
    return [by[(ss, sd, strategy)] - by[(ss, sd, "random")] for (ss, sd, st) in sorted(by) if st == strategy and (ss, sd, "random") in by]


def floor_of(result) -> Dict[str, float]:
    fl = [v["floor"] for v in result["setup"]["splits"].values()]
    return {k: float(np.mean([f[k] for f in fl])) for k in ("dice", "dice_fg", "dice_bg", "pool_dice_all")} if fl else {}


def new_strategies(result) -> List[str]:
    present = {r["strategy"] for r in result["results"]}
    return [s for s in NEW_ORDER if s in present]


def _grid_rows(result) -> List[Dict[str, Any]]:
    """Rows of the table's grid (no recipe-pick runs, no ceiling)."""
    return [r for r in result["results"] if r["recipe"] in ("ft", "retrain") and r["strategy"] != "all_pool"]


def grid_size(result) -> int:
    setup = result["setup"]
    recipes = [x for x in ("ft", "retrain") if setup.get(f"{x}_recipe")]
    ks = [k for k in setup["ks"] if k > 0]
    return len(recipes) * len(setup["patch_sizes"]) * len(ks) * len(setup["seeds"]) * len(setup["split_seeds"]) * len(setup["strategies"])


def unfinished_cells(result) -> List[str]:
    """'recipe size px K=k (n=..)' for every cell of the grid with fewer runs than split seeds x seeds."""
    setup = result["setup"]
    want = len(setup["seeds"]) * len(setup["split_seeds"])
    runs = Counter((r["recipe"], int(r["patch"]), int(r["k"]), r["strategy"]) for r in _grid_rows(result))
    out = []
    for recipe in [x for x in ("ft", "retrain") if setup.get(f"{x}_recipe")]:
        for size in setup["patch_sizes"]:
            for k in [k for k in setup["ks"] if k > 0]:
                n = min(runs[(recipe, size, k, s)] for s in setup["strategies"])
                if n < want:
                    out.append(f"{recipe} {size} px K={k} (n={n})")
    return out


def recipes_of(result) -> List[str]:
    return [x for x in ("ft", "retrain") if any(r["recipe"] == x for r in result["results"])]


def new_table(result, recipe: str, size: int, field: str = "dice") -> str:
    c = cells(result, recipe, field)
    ks = sorted({k for (s, _, k) in c if s == size})
    fl = floor_of(result)
    f0 = fl.get("dice" if field == "dice" else "pool_dice_all" if field == "pool_dice" else field)
    lines = ["| strategy | K = 0 | " + " | ".join(f"K = {k}" for k in ks) + " |", "| --- | --- |" + " --- |" * len(ks)]
    for strat in new_strategies(result):
        if strat == "all_pool":
            continue
        vals = []
        for k in ks:
            v = c.get((size, strat, k))
            vals.append("–" if not v else f"{np.mean(v):.3f} ± {np.std(v):.3f} (n={len(v)})")
        lines.append(f"| {NEW_LABELS.get(strat, strat)} | {f0:.3f} | " + " | ".join(vals) + " |")
    return "\n".join(lines)


def gain_rows(result, recipe: str, field: str = "dice") -> str:
    c = cells(result, recipe, field)
    keys = sorted({(s, k) for (s, _, k) in c})
    lines = ["| patch | K | strategy − random | mean diff | wins / n | sign-test p |", "| --- | --- | --- | --- | --- | --- |"]
    for size, k in keys:
        for strat in new_strategies(result):
            if strat in ("random", "all_pool"):
                continue
            d = paired(result, recipe, size, strat, k, field)
            if not d:
                continue
            w, l_ = sum(x > 0 for x in d), sum(x < 0 for x in d)
            lines.append(f"| {size} | {k} | {NEW_LABELS.get(strat, strat)} | {np.mean(d):+.4f} | {w} / {len(d)} | {sign_test_p(w, l_):.3g} |")
    return "\n".join(lines)


def picked_rows(result, recipe: str) -> str:
    rows = _main_rows(result, recipe)
    keys = sorted({(int(r["patch"]), int(r["k"])) for r in rows})
    lines = ["| patch | K | strategy | picked px the model had wrong | gland px | tiles | cases |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for size, k in keys:
        for strat in new_strategies(result):
            sel = [r for r in rows if int(r["patch"]) == size and int(r["k"]) == k and r["strategy"] == strat]
            if sel:
                lines.append(f"| {size} | {k} | {NEW_LABELS.get(strat, strat)} | {np.mean([r['picked_error_rate'] for r in sel]):.3f} | "
                             f"{np.mean([r['picked_gland_fraction'] for r in sel]):.2f} | {np.mean([r['picked_tiles'] for r in sel]):.1f} | "
                             f"{np.mean([r.get('picked_cases', 0) for r in sel]):.1f} |")
    return "\n".join(lines)


def class_rows(result, recipe: str) -> str:
    fg, bg = cells(result, recipe, "dice_fg"), cells(result, recipe, "dice_bg")
    fl = floor_of(result)
    lines = ["| patch | K | strategy | gland Dice | background Dice |", "| --- | --- | --- | --- | --- |",
             f"| – | 0 | starting model | {fl.get('dice_fg', float('nan')):.3f} | {fl.get('dice_bg', float('nan')):.3f} |"]
    for (size, strat, k) in sorted(fg, key=lambda t: (t[0], t[2], NEW_ORDER.index(t[1]) if t[1] in NEW_ORDER else 99)):
        lines.append(f"| {size} | {k} | {NEW_LABELS.get(strat, strat)} | {np.mean(fg[(size, strat, k)]):.3f} | {np.mean(bg[(size, strat, k)]):.3f} |")
    return "\n".join(lines)


def split_rows(result) -> str:
    lines = ["| split seed | pool tiles / cases | test tiles / cases | K = 0 test Dice (fg) | K = 0 pool Dice | all pool annotated: test Dice (fg) | engine s |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    ceil = {r["split_seed"]: r for r in result["results"] if r["strategy"] == "all_pool"}
    for ss, v in sorted(result["setup"]["splits"].items(), key=lambda t: int(t[0])):
        c = ceil.get(int(ss))
        ctext = f"{c['dice']:.3f} ({c['dice_fg']:.3f}), {c['recipe']}" if c else "not run"
        lines.append(f"| {ss} | {v['pool_tiles']} / {len(v['pool_cases'])} | {v['test_tiles']} / {len(v['test_cases'])} | "
                     f"{v['floor']['dice']:.3f} ({v['floor']['dice_fg']:.3f}) | {v['floor']['pool_dice_all']:.3f} | {ctext} | {round(v['engine'].get('seconds') or v['engine_seconds'], 1)} |")
    return "\n".join(lines)


def recipe_text(result) -> str:
    ft = result["setup"].get("ft_recipe") or {}
    rt = result["setup"].get("retrain_recipe") or {}
    out = []
    if ft:
        picked = ft.get("picked_from")
        if picked:
            out.append("Fine-tune recipe picked on the pool only (" + ft.get("picked_on", "") + "): " +
                       ", ".join(f"{k} steps:lr → pool Dice {v:.4f}" for k, v in picked.items()) +
                       f"; picked **{ft['steps']} steps, lr {ft['lr']}** (replay ratio {ft['replay_ratio']}).")
        else:
            out.append(f"Fine-tune recipe given: {ft['steps']} steps, lr {ft['lr']}, replay ratio {ft['replay_ratio']}.")
    if rt:
        out.append(f"Retrain variant: {rt['steps']} steps from the source checkpoint at lr {rt['lr']}, batches drawn uniformly "
                   f"from source tiles + chosen patches.")
    return " ".join(out)


def attach_studies(result: Dict[str, Any], out_json: Path, studies: Dict[str, Path]) -> Dict[str, Any]:
    """Each study from its file when present, else the one the earlier report at out_json carried
    (the study outputs live in an ignored folder; a rerun of the table must not drop them)."""
    old: Dict[str, Any] = {}
    if out_json.is_file():
        try:
            old = json.loads(out_json.read_text())
        except json.JSONDecodeError:
            old = {}
    for key, path in studies.items():
        if path.is_file():
            result[key] = json.loads(path.read_text())
        elif old.get(key) and old.get("setting") == result.get("setting"):
            result[key] = old[key]
    return result


def ensemble_text(result) -> str:
    st = result.get("ensemble_study")
    if not st:
        return "Ensemble study: not in this run (bench/replicate/ensemble_study.py writes it)."
    names = [("mc_entropy", "MC entropy"), ("mc_mi", "MC MI"), ("ens_entropy", "ensemble entropy"), ("ens_kl", "ensemble KL"),
             ("ens_uga_code", "ensemble UGA code")]
    lines = [st.get("text", ""), "",
             "| split | test Dice base / ensemble | AUROC own errors: " + " / ".join(n for k, n in names[:4])
             + " | AUROC base errors: same order | picked px wrong: " + " / ".join(n for k, n in names) + " / random | cases: same order |",
             "| --- | --- | --- | --- | --- | --- |"]
    for sp in st["splits"]:
        pk = sp["picked"]
        lines.append(
            f"| {sp['split_seed']} | {sp['test_dice_base']:.3f} / {sp['test_dice_ensemble']:.3f} | "
            + " / ".join(f"{sp['auroc_own'][k]:.3f}" for k, _ in names[:4]) + " | "
            + " / ".join(f"{sp['auroc_base_errors'][k]:.3f}" for k, _ in names[:4]) + " | "
            + " / ".join(f"{pk[k]['wrong']:.3f}" for k, _ in names) + f" / {pk['random']['wrong']:.3f} | "
            + " / ".join(f"{pk[k]['cases']:g}" for k, _ in names) + f" / {pk['random']['cases']:.1f} |")
    ft = st.get("finetune")
    if ft:
        lines += ["", f"Fine-tuned on the ensemble's top {st['k']} whole tiles (recipe {ft['recipe']['steps']} steps, lr {ft['recipe']['lr']:g}), "
                  "seed-matched against the grid's random rows:", "",
                  "| ranking | n | test Dice | mean diff vs random | wins | sign-test p | pool Dice diff | pool wins | pool p |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for name, sm in ft["summary"].items():
            if not sm["n"]:
                continue
            lines.append(f"| {name} | {sm['n']} | {sm['dice']:.3f} | {sm['mean_diff']:+.4f} | {sm['wins']} / {sm['n']} | {sm['p']:.3g} | "
                         f"{sm['pool_mean_diff']:+.4f} | {sm['pool_wins']} / {sm['n']} | {sm['pool_p']:.3g} |")
    return "\n".join(lines)


def dropout_text(result) -> str:
    st = result.get("dropout_study")
    if not st:
        return "Dropout-placement study: not in this run (bench/replicate/dropout_study.py writes it)."
    lines = [st.get("text", ""), "",
             "| Dropout placement | test Dice (det.) | AUROC entropy | AUROC MI | mean MI | T=20 cost (deterministic passes) | picked px wrong, entropy / MI / random |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for v in st["variants"]:
        lines.append(f"| {v['name']} | {v['dice']:.3f} | {v['auroc_entropy']:.3f} | {v['auroc_mutual_information']:.3f} | "
                     f"{v['mean_mutual_information']:.4f} | {v['t20_cost_passes']:.2f} | "
                     f"{v['picked_wrong']['entropy']:.3f} / {v['picked_wrong']['mutual_information']:.3f} / {v['picked_wrong']['random']:.3f} |")
    return "\n".join(lines)


def new_markdown(result) -> str:
    setup = result["setup"]
    parts = [f"Setting `{result['setting']}`: {result['setting_text']}.", "",
             f"Metric: {result['metric']}. Cells: mean ± std over the (split seed, fine-tune seed) runs that finished; n = runs.", ""]
    missing = unfinished_cells(result)
    if setup.get("stopped") or missing:
        why = f"{setup['stopped']}; " if setup.get("stopped") else ""
        parts += [f"**Partial run**: {why}{len(_grid_rows(result))} of {grid_size(result)} runs of the grid done; "
                  f"cells not finished (n of {len(setup['seeds']) * len(setup['split_seeds'])} per strategy): "
                  + (", ".join(missing) or "none") + ".", ""]
    parts += ["Per split (floor = K = 0, ceiling = every pool tile annotated, whole tiles):", "", split_rows(result), "", recipe_text(result), ""]
    for recipe in recipes_of(result):
        sizes = sorted({int(r["patch"]) for r in _main_rows(result, recipe)}, reverse=True)
        for size in sizes:
            parts += [f"**Held-out test Dice, {size} px patches, recipe {recipe}:**", "", new_table(result, recipe, size), "",
                      f"Transductive pool Dice (corrected pixels ignored), {size} px, {recipe}:", "", new_table(result, recipe, size, "pool_dice"), ""]
        parts += [f"Seed-matched differences vs random, test Dice, recipe {recipe} (pairs = same split seed and fine-tune seed):", "",
                  gain_rows(result, recipe), "", f"The same on the transductive pool Dice, recipe {recipe}:", "", gain_rows(result, recipe, "pool_dice"), "",
                  f"Per class, recipe {recipe} (mean over runs):", "", class_rows(result, recipe), "",
                  f"What was picked, recipe {recipe} (means over runs):", "", picked_rows(result, recipe), ""]
    took = setup.get("seconds_text") or f"whole run {setup['seconds']} s"
    parts += [dropout_text(result), "", ensemble_text(result), "",
              f"Engine: wasm, T = {setup['samples']}; crop {setup['crop']}, batch {setup['batch_size']}, {setup['replay_tiles']} replay tiles, "
              f"torch threads {setup['threads']}; {took}{' (--quick)' if setup.get('quick') else ''}."]
    return "\n".join(parts)


def new_plot(result, png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = {"uga_code": "#c0392b", "uga_code_diverse": "#16a085", "uga_score": "#d35400", "entropy": "#e67e22",
               "mutual_information": "#8e44ad", "random": "#2c3e50"}
    recipe = "ft" if "ft" in recipes_of(result) else (recipes_of(result) or ["ft"])[0]
    c = cells(result, recipe)
    sizes = sorted({s for (s, _, _) in c}, reverse=True) or [224]
    prev = result.get("previous")
    n = len(sizes) + (1 if prev else 0)
    fig, axes = plt.subplots(1, n, figsize=(5.2 * n, 4.3), dpi=110, squeeze=False)
    f0 = floor_of(result).get("dice", float("nan"))
    ceil = [r["dice"] for r in result["results"] if r["strategy"] == "all_pool"]
    for ax, size in zip(axes[0], sizes):
        for strat in new_strategies(result):
            ks = sorted({k for (s, st, k) in c if s == size and st == strat})
            xs = [0] + ks
            m = np.array([f0] + [np.mean(c[(size, strat, k)]) for k in ks])
            sd = np.array([0.0] + [np.std(c[(size, strat, k)]) for k in ks])
            ax.plot(xs, m, marker="o", color=colours.get(strat), label=NEW_LABELS.get(strat, strat), linestyle="--" if strat == "random" else "-")
            ax.fill_between(xs, m - sd, m + sd, color=colours.get(strat), alpha=0.12)
        if ceil:
            ax.axhline(np.mean(ceil), color="grey", linestyle=":", label="all pool annotated")
        ax.set_title(f"new pathology ({result['setup']['target_classes']}), {size} px, {recipe}", fontsize=9)
        ax.set_xlabel("corrected patches K")
        ax.set_ylabel("held-out test Dice (bg/gland mean)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    if prev:
        ax = axes[0][-1]
        s = summarise(prev)
        for strat in strategies_of(prev):
            xs = [k for k in ks_of(prev) if (strat, k) in s]
            ax.plot(xs, [s[(strat, k)]["mean"] for k in xs], marker="o", label=LABELS.get(strat, strat), linestyle="--" if strat == "random" else "-")
        ax.set_title("earlier setting: EBHI-GTXC stain shift, default model", fontsize=9)
        ax.set_xlabel("corrected patches K (112 px)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(png)
    plt.close(fig)


def attach_previous(result: Dict[str, Any], out_json: Path) -> Dict[str, Any]:
    """Carry the earlier GTXC results (a JSON without 'setting', or the 'previous' of a newer one) into this result."""
    if "previous" in result or not out_json.is_file():
        return result
    old = json.loads(out_json.read_text())
    if "setting" not in old:
        prev = {"setting": "ebhi-gtxc", **old}
    else:
        prev = old.get("previous")
    return {**result, "previous": prev} if prev else result


def _replace_block(text: str, name: str, body: str) -> str:
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    block = f"{begin}\n{body}\n{end}"
    if begin in text and end in text:
        return text[: text.index(begin)] + block + text[text.index(end) + len(end):]
    return text.rstrip("\n") + "\n\n" + block + "\n"


def write_reports(result: Dict[str, Any], md: Path, png: Path) -> None:
    """Generated parts of the Markdown go between markers so hand-written text around them survives."""
    if result.get("setting") != SETTING_NEW:
        text = md.read_text() if md.is_file() else f"# UGA replication — results\n\n![Dice vs corrected patches]({png.name})\n"
        md.write_text(_replace_block(text, "replication-results", results_markdown(result)))
        plot(result, png)
        return
    text = md.read_text() if md.is_file() else f"# UGA replication — results\n\n![Dice vs corrected patches]({png.name})\n"
    text = _replace_block(text, "replication-new-pathology", new_markdown(result))
    prev = result.get("previous")
    if prev:
        text = _replace_block(text, "replication-results", results_markdown(prev))
    md.write_text(text)
    new_plot(result, png)


SETTING_NEW = "new-pathology"


def keyvalue_line(result: Dict[str, Any], summary: Optional[Summary] = None) -> str:
    if result.get("setting") != SETTING_NEW:
        return gtxc_keyvalue_line(result, summary or summarise(result))
    parts = [f"setting={result['setting']}", f"dice_k0={floor_of(result).get('dice', float('nan')):.4f}"]
    ceil = [r["dice"] for r in result["results"] if r["strategy"] == "all_pool"]
    if ceil:
        parts.append(f"dice_all_pool={np.mean(ceil):.4f}")
    for recipe in recipes_of(result):
        c = cells(result, recipe)
        for (size, strat, k) in sorted(c):
            parts.append(f"dice_{recipe}_{size}_{strat}_k{k}={np.mean(c[(size, strat, k)]):.4f}")
            if strat != "random" and strat == "uga_code":  # one gain per cell keeps the line readable
                d = paired(result, recipe, size, strat, k)
                if d:
                    w, l_ = sum(x > 0 for x in d), sum(x < 0 for x in d)
                    parts.append(f"gain_{recipe}_{size}_{strat}_k{k}={np.mean(d):+.4f} wins_{recipe}_{size}_{strat}_k{k}={w}/{len(d)} "
                                 f"p_{recipe}_{size}_{strat}_k{k}={sign_test_p(w, l_):.3g}")
    parts.append(f"seconds={result['setup'].get('seconds')}")
    return " ".join(parts)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("json")
    p.add_argument("--md", default=None)
    p.add_argument("--png", default=None)
    p.add_argument("--previous", default=None, help="a JSON whose GTXC results to carry as the second section")
    p.add_argument("--results", default=None, help="rows from this results.jsonl instead (a run still going or stopped)")
    p.add_argument("--dropout-study", default=None, help="include this dropout_study.py JSON")
    p.add_argument("--ensemble-study", default=None, help="include this ensemble_study.py JSON")
    a = p.parse_args()
    src = Path(a.json)
    result = json.loads(src.read_text())
    if a.results:
        result["results"] = [json.loads(x) for x in Path(a.results).read_text().splitlines() if x.strip()]
    if a.dropout_study:
        result["dropout_study"] = json.loads(Path(a.dropout_study).read_text())
    if a.ensemble_study:
        result["ensemble_study"] = json.loads(Path(a.ensemble_study).read_text())
    if a.previous:
        result = attach_previous(result, Path(a.previous))
    md = Path(a.md) if a.md else src.with_suffix(".md")
    png = Path(a.png) if a.png else src.with_suffix(".png")
    write_reports(result, md, png)
    print(keyvalue_line(result))


if __name__ == "__main__":
    main()
