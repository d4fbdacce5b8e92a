"""What training budget does the demo need to reach its target? The demo's model and data at fixed step counts.

    .venv/bin/python benchmarks/demo_budget.py --steps 3042 6084 --seeds 0      # 2x and 4x the 10-minute demo's steps

The 10-minute `make demo` on this project's 2-core CPU trains about 1,521 steps (13 epochs of 117). This script trains
the demo's configuration as it was before `benchmarks/recipes.py` chose more nucleus-centred crops
(`sagan_seg.demo.DEMO_MODEL` with `OLD_RECIPE`, the same synthetic splits as `run_demo(seed=...)`, 117 steps per
epoch, cosine schedule over the whole run, the best epoch by validation macro F1, its logit bias calibrated on
validation) for a fixed number of steps — equal steps, so the machine's load changes the minutes, not the result —
and scores the test split once per run. Writes benchmarks/results/demo_budget.md (and .csv), one row per run,
appended as runs finish so a partial run is usable; runs go to runs/demo_budget/.
"""
import argparse, math, sys, time
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import torch

from _common import write_results, load_avg, machine_line

OLD_RECIPE = dict(fg_bias=0.5)   # the rows here were run with the demo's recipe before benchmarks/recipes.py changed it
STEPS_PER_EPOCH = 117          # what the 10-minute demo plans on this CPU (runs/demo_s*/run/history.csv)
DEMO_STEPS = int(pd.read_csv(Path(__file__).parent / 'results' / 'demo_runs.csv').query('seed == 0').steps.iloc[0])   # the 10-minute demo's steps (demo_runs.py)


def one_run(root: Path, steps: int, seed: int) -> dict:
    from sagan_seg.demo import make_splits, demo_config, score_test_split, headline
    from sagan_seg.fitting import fit
    from sagan_seg.checkpoints import load_generator
    splits = make_splits(root / 'data', seed=seed)                 # run_demo's defaults: 256 / 8 / 32 tiles of 256 px
    epochs = math.ceil(steps / STEPS_PER_EPOCH)
    cfg = demo_config(splits['train'], splits['val'], root / f'steps{steps}_s{seed}', seed,
                      epochs=epochs, steps_per_epoch=STEPS_PER_EPOCH, progress=False, **OLD_RECIPE)
    t0 = time.time()
    hist = fit(cfg)
    minutes = (time.time() - t0) / 60
    G = load_generator(Path(cfg.out) / 'best.pt')
    h = headline(score_test_split(G, splits['test'])[0])            # the test split, read once for this run
    best = int(hist.val_f1.idxmax())
    return dict(steps=int(hist.step.iloc[-1]), x_demo=round(int(hist.step.iloc[-1]) / DEMO_STEPS, 2), seed=seed,
                minutes=round(minutes, 1), best_epoch=best + 1, val_macro_f1=round(float(hist.val_f1.max()), 4),
                **{k: round(float(h[k]), 4) for k in ('macro_f1', 'f1_podocyte', 'f1_non_podocyte', 'f1_glomeruli')},
                target_met=bool(h['target_met']))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--steps', type=int, nargs='+', default=[2 * DEMO_STEPS, 4 * DEMO_STEPS], help='generator steps per run')
    p.add_argument('--seeds', type=int, nargs='+', default=[0], help='data and training seeds')
    p.add_argument('--runs', default='runs/demo_budget', help='folder for data and runs')
    p.add_argument('--threads', type=int, default=1, help='torch threads')
    p.add_argument('--append', action='store_true', help='keep the rows already in the results .csv and add these runs')
    p.add_argument('--out', default=str(Path(__file__).parent / 'results' / 'demo_budget.md'), help='Markdown results file')
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    from sagan_seg.metrics import table_markdown
    cmd = 'python benchmarks/demo_budget.py ' + ' '.join(argv if argv is not None else sys.argv[1:])
    t0, load0, rows = time.time(), load_avg(), []
    csv = Path(args.out).with_suffix('.csv')
    if args.append and csv.is_file(): rows = pd.read_csv(csv).to_dict('records')
    for steps in args.steps:
        for seed in args.seeds:
            print(f'training {steps} steps, seed {seed} ...', file=sys.stderr, flush=True)
            rows.append(one_run(Path(args.runs), steps, seed))
            df = pd.DataFrame(rows)
            df.to_csv(csv, index=False)
            g = df.groupby('steps')
            mean = pd.DataFrame({c: [f'{m:.4f} ± {s:.4f}' if n > 1 else f'{m:.4f}' for m, s, n in
                                     zip(g[c].mean(), g[c].std(), g[c].count())]
                                 for c in ('macro_f1', 'f1_podocyte', 'f1_non_podocyte')},
                                index=g.size().index).assign(runs=g.size().values)
            text = '\n'.join([
                '# The demo at larger step budgets: what reaches the target?', '',
                f'Command: `{cmd.strip()}`' + (' (rows of earlier runs kept: `--append`)' if args.append else '') + '  ',
                f'Machine: {machine_line()}; load average (1, 5, 15 min) {load0} at the start, {load_avg()} now  ',
                f'Date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {(time.time() - t0) / 60:.0f} min so far  ',
                f'The demo configuration (`DEMO_MODEL`, R1 gamma 1, cosine over the run), {STEPS_PER_EPOCH} steps per epoch, '
                f'best epoch by validation macro F1, logit bias calibrated on validation, test split read once per run. '
                f'`x_demo` = steps / {DEMO_STEPS} (the 10-minute demo\'s steps on this CPU). Minutes are wall time on a '
                'machine shared with other jobs: read the steps, not the minutes. Target: macro F1 >= 0.976, podocyte and '
                'non-podocyte F1 >= 0.95.', '',
                table_markdown(df.set_index('steps')), '',
                'Mean ± sd over seeds per budget:', '', table_markdown(mean), ''])
            write_results(text, args.out)


if __name__ == '__main__':
    main()
