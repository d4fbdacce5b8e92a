"""The 10-minute demo, one run per seed: what `make demo` reaches on this machine, beside the paper.

    .venv/bin/python benchmarks/demo_runs.py --seeds 0 1 2        # three 10-minute demos (~30 min on 2 CPU cores)
    .venv/bin/python benchmarks/demo_runs.py --report-only         # rewrite the .md from the .csv (no training)

Each run is `sagan_seg.demo.run_demo(minutes=..., seed=...)` (what `sagan-seg demo --seed N` runs) in its own folder
under runs/demo/; its `headline.json` becomes one row of benchmarks/results/demo_runs.csv. The .md beside it holds
the per-seed table, the mean ± sd over seeds and the paper's numbers (`metrics.PAPER_RESULTS`, different data).
README, `19_paper` and `benchmarks/demo_budget.py` read these files; nothing quotes the numbers by hand. The first
seed's figures (predictions, attention) become README's pictures, nbs/images/demo_*.jpg (JPEG quality 50 keeps them
small), and the .md's `Figures:` line says which run drew them.
"""
import argparse, json, sys, time
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
CSV = HERE / 'results' / 'demo_runs.csv'
IMAGES = HERE.parent / 'nbs' / 'images'      # README's pictures: {report figure: picture}
FIGURES = {'predictions.png': 'demo_predictions.jpg', 'attention.png': 'demo_attention.jpg'}
METRICS = {'macro_f1': 'F1 (macro, 4 classes)', 'f1_podocyte': 'F1 podocyte', 'f1_non_podocyte': 'F1 non-podocyte',
           'f1_glomeruli': 'F1 glomeruli', 'f1_background': 'F1 background', 'accuracy': 'pixel accuracy', 'iou': 'IoU (macro)'}
COLUMNS = ['seed', 'minutes_budget', 'minutes_total', 'steps', *METRICS]


def paper_value(key: str) -> float:
    "The paper's number for one of `METRICS` (mouse WSI, `metrics.PAPER_RESULTS`)."
    from sagan_seg.demo import HEADLINE_ROWS
    from sagan_seg.metrics import PAPER_RESULTS
    v = PAPER_RESULTS
    for k in HEADLINE_ROWS[key][1:]: v = v[k]
    return float(v)


def mean_sd(v: pd.Series) -> str:
    "'mean ± sd' over seeds, 4 decimals (sample sd; 0 for one run)."
    return f'{v.mean():.4f} ± {v.std(ddof=1) if len(v) > 1 else 0:.4f}'


def summary_table(runs: pd.DataFrame) -> str:
    "Markdown: one row per metric, one column per seed, the mean ± sd and the paper's number."
    seeds = runs.sort_values('seed')
    head = ['metric', *[f'seed {s}' for s in seeds.seed], 'mean ± sd', 'paper (mouse WSI)']
    lines = ['| ' + ' | '.join(head) + ' |', '|---|' + '---:|' * (len(head) - 1)]
    for k, label in METRICS.items():
        lines.append('| ' + ' | '.join([label, *[f'{v:.4f}' for v in seeds[k]], mean_sd(seeds[k]), f'{paper_value(k):.4f}']) + ' |')
    return '\n'.join(lines)


def report(runs: pd.DataFrame, provenance: str) -> str:
    "The results file's text: what was run, where, and the table."
    seeds = runs.sort_values('seed')
    steps = ', '.join(f'{s:,}' for s in seeds.steps)
    return '\n'.join(['# The 10-minute demo, per seed', '', provenance, '',
                      f'Budget {runs.minutes_budget.iloc[0]:g} minutes per run (data, training, test, figures, slide); '
                      f'training steps {steps}; minutes from start to report {", ".join(f"{m:g}" for m in seeds.minutes_total)}'
                      + (f'; training threads {", ".join(str(int(t)) for t in seeds.threads)}' if 'threads' in seeds and seeds.threads.notna().all() else '') + '. '
                      'Test split (32 tiles of 256 px), best epoch by validation macro F1, its logit bias calibrated on '
                      "validation. The paper's column is its own mouse WSI data (different data).", '',
                      summary_table(runs), ''])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2], help='data and training seeds')
    p.add_argument('--minutes', type=float, default=10.0, help="each run's budget (the demo's default)")
    p.add_argument('--runs', default='runs/demo', help='folder for the runs (one report folder per seed)')
    p.add_argument('--report-only', action='store_true', help='rewrite the .md from the .csv, train nothing')
    p.add_argument('--merge', action='store_true', help="keep the .csv's rows of other seeds (seeds run by separate calls)")
    p.add_argument('--note', default='', help='how the collected runs were made, for the provenance line')
    p.add_argument('--collect', action='store_true', help='train nothing: read RUNS/seedN/headline.json of runs made by '
                   '`sagan-seg demo --out RUNS/seedN --seed N` (e.g. two at a time)')
    p.add_argument('--out', default=str(HERE / 'results' / 'demo_runs.md'), help='Markdown results file')
    args = p.parse_args(argv)
    from _common import machine_line, write_results
    md = Path(args.out)
    if args.report_only:
        old = md.read_text().split('\n\n')[1] if md.is_file() else 'Provenance: not recorded.'
        return write_results(report(pd.read_csv(CSV), old), args.out)
    from sagan_seg.demo import run_demo
    rows, t0 = [], time.time()
    for seed in args.seeds:
        out = Path(args.runs) / f'seed{seed}'
        if not args.collect:
            run_demo(out, minutes=args.minutes, seed=seed, progress=False, log=lambda s: print(s, file=sys.stderr, flush=True))
        h = json.loads((out / 'headline.json').read_text())
        rows.append(dict(seed=seed, minutes_budget=h['minutes_budget'], minutes_total=round(h['minutes_total'], 1), steps=h['steps'],
                         **{k: round(h[k], 4) for k in METRICS}, threads=h['threads']))
    df = pd.DataFrame(rows)[COLUMNS + ['threads']]
    if args.merge and CSV.is_file():
        old = pd.read_csv(CSV); df = pd.concat([old[~old.seed.isin(df.seed)], df]).sort_values('seed')
    df.to_csv(CSV, index=False)
    from PIL import Image
    for src, dst in FIGURES.items() if 0 in args.seeds or not args.merge else ():   # README's pictures, from seed 0 (or the first)
        Image.open(Path(args.runs) / f'seed{0 if 0 in args.seeds else args.seeds[0]}' / src).convert('RGB').save(IMAGES / dst, quality=50, optimize=True)
    av = list(argv if argv is not None else sys.argv[1:])
    if '--note' in av: del av[av.index('--note'):av.index('--note') + 2]        # the note is quoted below, not in the command
    cmd = 'python benchmarks/demo_runs.py ' + ' '.join(av)
    made = (f'`sagan-seg demo --out {args.runs}/seedN --seed N --no-progress` for N = {", ".join(map(str, args.seeds))}'
            f'{" (" + args.note + ")" if args.note else ""}, collected by `{cmd}`' if args.collect else f'`{cmd}`')
    prov = (f'Command: {made}' + (' (the rows of the other seeds come from earlier calls: `--merge`)' if args.merge else '') +
            f'  \nMachine: {machine_line(threads=not args.collect)}  \n'
            f'Date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC' + ('' if args.collect else f', {(time.time() - t0) / 60:.0f} min in all') + '  \n'
            f'Figures: nbs/images/demo_predictions.jpg and demo_attention.jpg from seed {0 if 0 in args.seeds else args.seeds[0]} of these runs')
    return write_results(report(pd.read_csv(CSV), prov), args.out)


if __name__ == '__main__':
    main()
