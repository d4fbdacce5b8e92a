"""Steps to quality: the demo's training recipes compared as validation curves at equal steps, one run per call.

    .venv/bin/python benchmarks/recipes.py --recipe old --seed 0 --steps 1200     # one run -> runs/recipes/old_s0/
    .venv/bin/python benchmarks/recipes.py --collect                              # every finished run -> results/recipes.*
    .venv/bin/python benchmarks/recipes.py --range-test 100                        # the learning-rate range test -> results/lr_range.csv
    .venv/bin/python benchmarks/recipes.py --time old ema d_every2 ...             # seconds per step, one process -> results/recipes_time.*

The runs behind results/recipes.md (two at a time, 1 thread each, all with --tta): old, ema and fg08 on seeds 0, 1
and 2; crop128_b2, onecycle, onecycle3x, lr2x, posattn, ema+d_every2 and fg10 on seed 0; each at 1,200 steps (about
the 10-minute demo's steps on this machine); then fg08 on seeds 0 and 1 at 3,042 steps (`--evals 26`, 117 steps
between validations as in demo_budget.py) and at 4,563 steps (`--evals 39`), to compare with the old recipe's steps to the target.

Each run trains the demo's model on the demo's synthetic splits (`make_splits(seed)`: 256 / 8 / 32 tiles of 256 px)
for a fixed number of generator steps, with `--evals` validation points spread evenly over it (the schedule runs over
the whole run), and records validation macro, podocyte and non-podocyte F1 and the seconds at each point. Choices are
made on the validation curves; the test split is read once per run, by the checkpoint that validation picked
(`best.pt`, logit bias calibrated on validation), with and without test-time augmentation where the recipe asks for it.
Runs are independent processes, so two can share the 2 cores; `--collect` gathers whatever has finished. Equal steps
make the result independent of the machine's load; the seconds are wall time on a shared machine (read them as a
ratio within one batch of runs, not as a speed).
"""
import argparse, json, math, sys, time
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import torch

from _common import write_results, load_avg, machine_line

HERE = Path(__file__).parent
RESULTS = HERE / 'results'
OLD_DEMO_STEPS = 6084      # what the old recipe needed to reach the target (demo_budget.md, 4x the Intel demo's steps)

# name -> (TrainConfig overrides of the demo configuration, GeneratorConfig overrides, what it tests)
RECIPES = {
    'old':        ({}, {}, "the demo's recipe before this benchmark: Adam (0, 0.9) for both, cosine from lr_g 1e-3, half the crops centred on a non-background pixel"),
    'crop128_b2': (dict(crop=128, batch_size=2), {}, 'crop 128 px, batch 2: the same pixels per step, 4x the context'),
    'crop96_b4':  (dict(crop=96, batch_size=4), {}, 'crop 96 px, batch 4: about the same pixels per step'),
    'fg0':        (dict(fg_bias=0.0), {}, 'no foreground bias in the crops'),
    'beta09':     (dict(betas_g=(0.9, 0.99)), {}, "G's Adam with beta1 0.9 (D keeps (0, 0.9)), lr unchanged"),
    'onecycle':   (dict(betas_g=(0.9, 0.99), lr_g='peak', warmup=0.1), {}, "G: beta1 0.9, one-cycle (10 % warm-up) to the range test's peak"),
    'onecycle3x': (dict(betas_g=(0.9, 0.99), lr_g='3peak', warmup=0.1), {}, "the same to 3x the range test's peak"),
    'ema':        (dict(ema=0.99), {}, 'EMA of G (decay 0.99) evaluated and checkpointed'),
    'ema995':     (dict(ema=0.995), {}, 'EMA of G, decay 0.995'),
    'lr2x':       (dict(lr_g=2e-3, lr_d=4e-3), {}, 'both learning rates doubled (Adam (0, 0.9) kept)'),
    'fg08':       (dict(fg_bias=0.8), {}, '80 % of the crops centred on a non-background pixel (the demo: 50 %)'),
    'fg10':       (dict(fg_bias=1.0), {}, 'every crop centred on a non-background pixel'),
    'b16':        (dict(batch_size=16), {}, 'batch 16: twice the pixels per step'),
    'posattn':    ({}, dict(attn_variant='position', attn_lr_mult=10.0), "position-aware attention (4 heads, distance bias, gate from 0.1, lr x10) at both layers"),
    'd_every2':   (dict(d_every=2), {}, 'the game on every 2nd step'),
    'd_every4':   (dict(d_every=4), {}, 'D updated every 4th step'),
}


BASE = dict(fg_bias=0.5)   # the demo's recipe before this benchmark, pinned: every recipe is this plus its changes

def parse_recipe(name: str) -> tuple[dict, dict]:
    "A recipe by name, or several joined with '+' (later ones win), e.g. 'crop128_b2+ema'; on top of `BASE`."
    tr, ge = dict(BASE), {}
    for part in name.split('+'):
        if part not in RECIPES: sys.exit(f'unknown recipe {part!r}; known: {", ".join(RECIPES)}')
        tr.update(RECIPES[part][0]); ge.update(RECIPES[part][1])
    if isinstance(tr.get('lr_g'), str):       # 'peak' / '3peak': the range test's suggestion (results/lr_range.csv), times a factor
        peak = float(pd.read_csv(RESULTS / 'lr_range.csv').peak.iloc[0])
        tr['lr_g'] = peak * float(tr['lr_g'][:-4] or 1)
    return tr, ge


def one_run(root: Path, recipe: str, seed: int, steps: int, evals: int, tta: bool) -> dict:
    from sagan_seg.demo import make_splits, demo_config, score_test_split, headline
    from sagan_seg.fitting import fit
    from sagan_seg.checkpoints import load_generator
    tr, ge = parse_recipe(recipe)
    splits = make_splits(root / f'data_s{seed}', seed=seed)
    out = root / f'{recipe}_s{seed}_{steps}'
    cfg = demo_config(splits['train'], splits['val'], out, seed, gen=ge, epochs=evals,
                      steps_per_epoch=math.ceil(steps / evals), progress=False, layout='channels_last', amp='none', **tr)
    t0 = time.time()
    done = (out / 'history.csv').is_file() and (out / 'best.pt').is_file() and len(pd.read_csv(out / 'history.csv')) == evals
    hist = pd.read_csv(out / 'history.csv') if done else fit(cfg)   # a finished run whose scoring failed: scored, not retrained
    seconds = hist.seconds.sum() if done else time.time() - t0
    G = load_generator(out / 'best.pt')
    row = dict(recipe=recipe, seed=seed, steps=int(hist.step.iloc[-1]), minutes=round(seconds / 60, 2),
               s_per_step=round(float(hist.seconds.sum() / hist.step.iloc[-1]), 4), best_epoch=int(hist.val_f1.idxmax()) + 1,
               val_macro_f1=round(float(hist.val_f1.max()), 4))
    if tta: row.update(val_tta(out, splits['val']))
    kinds = [('', False)] + ([('tta_', True)] if tta else [])
    for pre, t in kinds:                      # the test split: read once per run (and once more with TTA)
        h = headline(score_test_split(G, splits['test'], **({'tta': True} if t else {}))[0])
        row.update({pre + k: round(float(h[k]), 4) for k in ('macro_f1', 'f1_podocyte', 'f1_non_podocyte', 'f1_glomeruli')})
        row[pre + 'target_met'] = bool(h['target_met'])
    curve = hist[['epoch', 'step', 'seconds', 'val_f1', 'val_f1_podocyte', 'val_f1_non-podocyte']].assign(recipe=recipe, seed=seed, run_steps=steps)
    curve['seconds'] = curve.seconds.cumsum().round(1)
    curve.to_csv(out / 'curve.csv', index=False)
    (out / 'test.json').write_text(json.dumps(row, indent=1))
    return row


def val_tta(run: Path, val_dir: Path) -> dict:
    "Validation macro F1 of a run's best.pt (calibrated), plain and with 8-view TTA: the choice of TTA is made here, not on test."
    from sagan_seg.checkpoints import load_generator
    from sagan_seg.demo import score_test_split, headline       # scores any folder; here the validation split
    G = load_generator(run / 'best.pt')
    return {f'val{p}_best_macro_f1': round(float(headline(score_test_split(G, val_dir, tta=t)[0])['macro_f1']), 4)
            for p, t in (('', False), ('_tta', True))}


def add_val_tta(root: Path) -> None:
    "For finished runs scored before `val_tta` existed: add its two numbers to their test.json (the test split is not read)."
    for p in sorted(root.glob('*/test.json')):
        row = json.loads(p.read_text())
        if 'val_tta_best_macro_f1' in row or not row.get('tta_macro_f1'): continue
        row.update(val_tta(p.parent, root / f"data_s{row['seed']}" / 'val'))
        p.write_text(json.dumps(row, indent=1)); print(p.parent.name, row['val_best_macro_f1'], row['val_tta_best_macro_f1'])


def range_test(seed: int, root: Path, steps: int) -> None:
    "The learning-rate range test (`step.lr_range_test`) on the demo configuration with G's betas (0.9, 0.99) -> results/lr_range.csv."
    from sagan_seg.demo import make_splits, demo_config
    from sagan_seg.step import lr_range_test, range_test_peak
    splits = make_splits(root / f'data_s{seed}', seed=seed)
    cfg = demo_config(splits['train'], splits['val'], root / 'range_test', seed, progress=False, layout='channels_last', amp='none',
                      betas_g=(0.9, 0.99))
    df = lr_range_test(cfg, lo=1e-5, hi=1e-1, steps=steps).assign(seed=seed, peak=lambda d: range_test_peak(d))
    df.to_csv(RESULTS / 'lr_range.csv', index=False)
    print(df.round(5).to_string(index=False)); print('peak', range_test_peak(df))


def time_recipes(names: list[str], rounds: int, steps: int) -> str:
    """Seconds per training step of each recipe, measured in this one process: `steps` consecutive steps (global step
    indices 0, 1, ..., so lazy R1 and `d_every` take their share) per recipe per round, recipes interleaved round by
    round so that a change in load hits all; the median over rounds of the mean step. -> results/recipes_time.{md,csv}."""
    import statistics
    from sagan_seg.demo import demo_config
    from sagan_seg.step import build_models, train_step
    from sagan_seg.metrics import table_markdown
    load0, models, cfgs, times = load_avg(), {}, {}, {n: [] for n in names}
    for n in names:
        tr, ge = parse_recipe(n)
        cfgs[n] = demo_config('.', '.', 'unused', 0, gen=ge, layout='channels_last', amp='none', **tr)
        models[n] = build_models(cfgs[n], torch.device('cpu'))
    for r in range(rounds):
        for n in names:
            c = cfgs[n]; K = c.generator.n_classes
            x = torch.rand(c.batch_size, 3, c.crop, c.crop).contiguous(memory_format=torch.channels_last)
            y = torch.randint(0, K, (c.batch_size, c.crop, c.crop))
            t = time.perf_counter()
            for s in range(steps): train_step(*models[n], x, y, c, torch.ones(K), None, step=s)
            if r: times[n].append((time.perf_counter() - t) / steps)      # round 0 warms up
    df = pd.DataFrame({'recipe': names, 's_per_step': [statistics.median(times[n]) for n in names]})
    df['vs_old'] = df.s_per_step / float(df.set_index('recipe').s_per_step.get('old', df.s_per_step.iloc[0]))
    df.round(4).to_csv(RESULTS / 'recipes_time.csv', index=False)
    text = '\n'.join(['# Seconds per training step of each recipe, measured in one process', '',
        f'Command: `python benchmarks/recipes.py --time {" ".join(names)} --rounds {rounds}`  ',
        f'Machine: {machine_line(threads=True)}; load average {load0} at the start, {load_avg()} at the end  ',
        f'Date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC  ',
        f'Random crops of each recipe\'s size, {steps} consecutive steps per recipe per round, recipes interleaved over '
        f'{rounds - 1} timed rounds (one warm-up round); median over rounds of the mean step.', '',
        table_markdown(df.set_index('recipe').round(4)), ''])
    return write_results(text, str(RESULTS / 'recipes_time.md'))


def paired(df: pd.DataFrame, col: str, base: str = 'old') -> pd.DataFrame:
    "Per recipe and run length: the mean and standard error of `col` minus the base recipe's, over the seeds both have."
    rows = []
    for (rec, steps), g in df.groupby(['recipe', 'steps']):
        b = df[(df.recipe == base) & (df.steps == steps)].set_index('seed')[col]
        d = (g.set_index('seed')[col] - b).dropna()
        if rec == base or d.empty: continue
        se = d.std(ddof=1) / len(d) ** 0.5 if len(d) > 1 else float('nan')
        rows.append(dict(recipe=rec, steps=steps, seeds=len(d), **{f'{col} - {base}': f'{d.mean():+.4f} ± {se:.4f}' if len(d) > 1 else f'{d.mean():+.4f}'}))
    return pd.DataFrame(rows)


def chosen(df: pd.DataFrame, steps: int) -> str:
    "The recipe with the highest mean validation macro F1 at `steps`, among those run on every seed that 'old' was run on."
    at = df[df.steps == steps]
    seeds = set(at[at.recipe == 'old'].seed)
    full = at.groupby('recipe').filter(lambda g: seeds <= set(g.seed))
    return full[full.seed.isin(seeds)].groupby('recipe').val_macro_f1.mean().idxmax()


def collect(root: Path, out: str, cmd: str) -> str:
    rows = [json.loads(p.read_text()) for p in sorted(root.glob('*/test.json'))]
    curves = pd.concat([pd.read_csv(p) for p in sorted(root.glob('*/curve.csv'))], ignore_index=True)
    df = pd.DataFrame(rows).sort_values(['steps', 'recipe', 'seed'])
    df.to_csv(RESULTS / 'recipes.csv', index=False); curves.to_csv(RESULTS / 'recipes_curves.csv', index=False)
    from sagan_seg.metrics import table_markdown
    cols = [c for c in ('val_macro_f1', 'val_tta_best_macro_f1', 'macro_f1', 'f1_podocyte', 'f1_non_podocyte', 'tta_macro_f1', 'tta_f1_podocyte', 'tta_f1_non_podocyte', 's_per_step') if c in df]
    g = df.groupby(['recipe', 'steps'])
    mean = pd.DataFrame({c: [f'{m:.4f} ± {s:.4f}' if n > 1 else f'{m:.4f}' for m, s, n in zip(g[c].mean(), g[c].std(), g[c].count())]
                         for c in cols}, index=g.size().index).assign(seeds=g.size().values)
    base_steps = int(df[df.recipe == 'old'].steps.min())
    pairs = paired(df, 'val_macro_f1').merge(paired(df, 'macro_f1'), on=['recipe', 'steps', 'seeds']).merge(paired(df, 'tta_macro_f1'), on=['recipe', 'steps', 'seeds'])
    pairs.to_csv(RESULTS / 'recipes_pairs.csv', index=False)          # read by 19_paper and make_readme: computed once, here
    text = '\n'.join([
        '# Steps to quality: the demo\'s training recipes at equal steps', '',
        f'Command: `{cmd}` after one `python benchmarks/recipes.py --recipe R --seed S --steps N --tta` call per run  ',
        f'Machine: {machine_line(threads=False)}, 1 thread per run, two runs at a time; load average {load_avg()} at collection  ',
        f'Date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC  ',
        'The demo\'s model and splits (256 / 8 / 32 tiles), channels_last fp32; 12 validation points evenly spaced over '
        'the run, the best one checkpointed and its logit bias calibrated on validation; the test split read once per run, '
        'and once more with the same checkpoint under 8-view test-time augmentation (`tta_` columns). Seconds are wall time '
        'with two runs sharing the machine. Recipes (each changes the demo\'s configuration as said):', '',
        *[f'- `{k}`: {v[2]}' for k, v in RECIPES.items() if k in set(df.recipe.str.split('+').explode())], '',
        f'**Chosen on validation** at {base_steps:,} steps (the highest mean validation macro F1 over the seeds `old` ran on): '
        f'`{chosen(df, base_steps)}`.', '',
        'Mean ± sd over seeds:', '', table_markdown(mean), '',
        'Paired differences from `old` at the same steps (mean ± standard error over seeds):', '', table_markdown(pairs.set_index('recipe')), '',
        'Per run:', '', table_markdown(df.set_index('recipe')), ''])
    return write_results(text, out)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--recipe', default='old', help="a name from RECIPES, or several joined with '+'")
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--steps', type=int, default=1200, help='generator steps of the run')
    p.add_argument('--evals', type=int, default=12, help='validation points over the run')
    p.add_argument('--tta', action='store_true', help='also score the test split with 8-fold dihedral TTA')
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--runs', default='runs/recipes')
    p.add_argument('--collect', action='store_true', help='gather the finished runs into results/recipes.{md,csv}')
    p.add_argument('--time', nargs='+', metavar='RECIPE', help='time a step of each recipe in this process instead')
    p.add_argument('--rounds', type=int, default=6, help='--time: rounds (the first warms up)')
    p.add_argument('--range-test', type=int, default=0, metavar='STEPS', help="run the learning-rate range test over STEPS steps instead")
    p.add_argument('--out', default=str(RESULTS / 'recipes.md'))
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.collect: add_val_tta(Path(args.runs)); return collect(Path(args.runs), args.out, 'python benchmarks/recipes.py --collect')
    if args.time: return time_recipes(args.time, args.rounds, 8)
    if args.range_test: return range_test(args.seed, Path(args.runs), args.range_test)
    print(json.dumps(one_run(Path(args.runs), args.recipe, args.seed, args.steps, args.evals, args.tta)))


if __name__ == '__main__':
    main()
