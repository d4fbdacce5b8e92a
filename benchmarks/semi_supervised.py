"""Does the discriminator earn its place on unlabeled tiles? Semi-supervised training at 1/8 and 1/4 (and 1/32) of the demo's labels, with its controls, one run per call.

    .venv/bin/python benchmarks/semi_supervised.py --cond semi --frac 8 --seed 0     # one run -> runs/semi/semi_f8_s0/
    .venv/bin/python benchmarks/semi_supervised.py --collect                          # every finished run -> results/semi_supervised.{md,csv}

The demo's synthetic splits (`make_splits(seed)`: 256 / 8 / 32 tiles of 256 px at 0.5 µm/px) and model (`DEMO_MODEL`).
For a labeled fraction 1/F, a permutation seeded by the run seed keeps the first 256/F training tiles with their masks
(the 1/8 set lies inside the 1/4 set); the unlabeled pool is the other training tiles with their masks set aside (kept
beside the images only to score the pseudo-labels, never trained on: `semi.UnlabeledFolder`), plus the tissue tiles of
two generated slides cut by `tiles.write_unlabeled_tiles` at the same 0.5 µm/px (no truth). Conditions:

- `sup`  (a): the demo's SAGAN on the labeled fraction only;
- `self` (b): (a) plus self-training on the pool's confident pixels (`pseudo='softmax'`, top probability >= 0.9); D
  plays only the labeled game as in (a) and has no say on unlabeled tiles (`lambda_adv_u=0`): the control that tells
  whether D adds anything;
- `semi` (c): (a) plus D on the pool: the adversarial term on unlabeled predictions (`lambda_adv_u=0.01`, as on
  labeled ones) and self-training on the tiles D scores at least as real as the median labeled pair (`pseudo='disc'`);
- `all`  (d): the demo's SAGAN on all 256 labeled tiles;
- `sup2x`: (a) at twice the steps, about the minutes (b) and (c) take (equal time, not equal steps);
- `adv`: (a) plus D's adversarial term on the pool, no pseudo-labels (which half of (c) does the work);
- `semi_r0`: (c) with the bar lowered to D's least real labeled pair (`pseudo_rank=0`), added after (c) was measured
  to trust a few percent of the pool: a test of whether that share is what holds (c) back, not a tuned setting;
- `both`: (c) keeping only the confident pixels of the tiles D trusts (defined; not in the reported runs).

Every run takes the same number of generator steps (`--steps`, 6 validation points spread over it), with the
unlabeled batch as large as the labeled one; pseudo-labels start after 30 % of the run. The weights and thresholds
are the literature's (Hung et al. 2018: lambda_semi_adv 0.001-0.01; s4GAN: whole images by D's score, self-training
weight 1) and the confidence 0.9 of plain self-training: fixed before any run, not tuned on these splits. Validation
picks each run's checkpoint; the test split is read once per run. Runs are independent processes (two share the 2 cores).
"""
import argparse, json, math, shutil, sys, time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from _common import write_results, load_avg, machine_line

HERE = Path(__file__).parent
RESULTS = HERE / 'results'
MPP = 0.5                     # the synthetic tiles' and slides' µm/px

# condition -> (TrainConfig overrides, uses the pool, what it is)
CONDITIONS = {
    'sup':  (dict(), False, '(a) supervised on the labeled fraction only'),
    'self': (dict(pseudo='softmax', pseudo_confidence=0.9, lambda_adv_u=0.0), True, "(b) + self-training on confident pixels, no D on unlabeled tiles"),
    'semi': (dict(pseudo='disc', pseudo_rank=0.5, lambda_adv_u=0.01), True, '(c) + D on unlabeled tiles: adversarial term and D-selected pseudo-labels'),
    'both': (dict(pseudo='both', pseudo_rank=0.5, pseudo_confidence=0.9, lambda_adv_u=0.01), True, "(c') as (c), keeping only the confident pixels of the tiles D trusts"),
    'semi_r0': (dict(pseudo='disc', pseudo_rank=0.0, lambda_adv_u=0.01), True, "(c) with the bar at D's least real labeled pair (rank 0): run after (c) trusted ~3 % of pixels, to test whether that share is what holds it back"),
    'adv':  (dict(lambda_adv_u=0.01), True, "(c'') D's adversarial term on unlabeled tiles only, no pseudo-labels"),
    'all':  (dict(), False, '(d) supervised on all labeled tiles'),
    'sup2x': (dict(), False, "(a) at twice the steps: about the minutes of (b) and (c), whose steps cost about twice (a)'s"),
}
STEPS_MULT = {'sup2x': 2}     # equal time, not equal steps: the control for what (b) and (c) spend


def _link(src: Path, dst: Path):
    dst.parent.mkdir(parents=True, exist_ok=True)
    if not dst.exists(): dst.hardlink_to(src)


def prepare(root: Path, seed: int, frac: int) -> dict:
    "The run's folders (cached): labeled fraction, its pool (masks kept for scoring only), generated slides' tiles, validation, test."
    from sagan_seg.demo import make_splits
    from sagan_seg.training import derive_seed
    splits = make_splits(root / f'data_s{seed}', seed=seed)
    out = dict(val=splits['val'], test=splits['test'], all=splits['train'])
    stems = sorted(p.stem for p in (splits['train'] / 'images').glob('*.png'))
    perm = np.random.default_rng(derive_seed(seed, 'labeled') % 2**32).permutation(stems)
    n = len(stems) // frac
    lab, pool = root / f'data_s{seed}' / f'lab{frac}', root / f'data_s{seed}' / f'pool{frac}'
    for d, chosen in ((lab, perm[:n]), (pool, perm[n:])):
        for s in chosen:
            for sub in ('images', 'masks'): _link(splits['train'] / sub / f'{s}.png', d / sub / f'{s}.png')
        if (splits['train'] / 'classes.csv').is_file(): shutil.copy(splits['train'] / 'classes.csv', d / 'classes.csv')
        (d / 'tiles.json').write_text(json.dumps(dict(mpp=MPP, tile=256, note='synthetic tiles, drawn at 0.5 µm/px')))
    out.update(lab=lab, pool=pool, slides=slide_pool(root / f'data_s{seed}' / 'slides', seed))
    return out


def slide_pool(d: Path, seed: int) -> Path:
    "Unlabeled tissue tiles of two generated slides, cut at the labeled tiles' µm/px (cached)."
    from sagan_seg.slides import synth_slide
    from sagan_seg.tiles import write_unlabeled_tiles
    if (d / 'tiles.json').is_file() and not (d / 'UNFINISHED.json').exists(): return d
    for k in range(2):
        t = synth_slide(d.parent / f'slide{k}.tif', size=(1024, 1536), seed=20_000 + 10 * seed + k, mpp=MPP)
        write_unlabeled_tiles(t['path'], d, mpp=MPP, tile=256, min_tissue=0.2)
    return d


def one_run(root: Path, cond: str, frac: int, seed: int, steps: int, evals: int) -> dict:
    from sagan_seg.demo import demo_config, score_test_split, headline
    from sagan_seg.fitting import fit
    from sagan_seg.checkpoints import load_generator
    tr, uses_pool, _ = CONDITIONS[cond]
    steps *= STEPS_MULT.get(cond, 1)
    f = prepare(root, seed, frac)
    out = root / (f'{cond}_s{seed}' if cond == 'all' else f'{cond}_f{frac}_s{seed}')
    data = f['all'] if cond == 'all' else f['lab']
    pool = dict(unlabeled=[str(f['pool']), str(f['slides'])], pseudo_start=0.3) if uses_pool else {}
    cfg = demo_config(data, f['val'], out, seed, epochs=evals, steps_per_epoch=math.ceil(steps / evals), progress=False,
                      layout='channels_last', amp='none', mpp=MPP, **pool, **tr)
    t0 = time.time()
    hist = fit(cfg)
    G = load_generator(out / 'best.pt')
    row = dict(cond=cond, frac=1 if cond == 'all' else frac, seed=seed, steps=int(hist.step.iloc[-1]), minutes=round((time.time() - t0) / 60, 2),
               s_per_step=round(float(hist.seconds.sum() / hist.step.iloc[-1]), 4), best_epoch=int(hist.val_f1.idxmax()) + 1,
               val_macro_f1=round(float(hist.val_f1.max()), 4), labeled_tiles=len(list((Path(data) / 'images').glob('*.png'))))
    h = headline(score_test_split(G, f['test'])[0])           # the test split: read once, by the checkpoint validation chose
    row.update({k: round(float(h[k]), 4) for k in ('macro_f1', 'f1_podocyte', 'f1_non_podocyte', 'f1_glomeruli')})
    for k in ('semi_trusted', 'semi_pseudo_acc', 'semi_pseudo_acc_fg', 'semi_acc_all'):
        if k in hist: row[f'last_{k}'] = round(float(hist[k].iloc[-1]), 4)
    keep = [c for c in ('epoch', 'step', 'seconds', 'val_f1', 'semi_trusted', 'semi_pseudo_acc', 'semi_pseudo_acc_fg', 'semi_acc_all', 'd_u', 'd_real') if c in hist]
    hist[keep].assign(cond=cond, frac=row['frac'], seed=seed).to_csv(out / 'curve.csv', index=False)
    (out / 'test.json').write_text(json.dumps(row, indent=1))
    return row


def paired(df: pd.DataFrame, a: str, b: str, col: str, frac: int) -> dict:
    "Mean and standard error over seeds of `col`(a) - `col`(b) at labeled fraction 1/`frac` ('all' runs pair with every fraction)."
    pick = lambda c: df[(df.cond == c) & ((df.frac == frac) | (c == 'all'))].set_index('seed')[col]
    d = (pick(a) - pick(b)).dropna()
    se = d.std(ddof=1) / len(d) ** 0.5 if len(d) > 1 else float('nan')
    return dict(comparison=f'{a} - {b}', frac=f'1/{frac}', metric='test' if col == 'macro_f1' else 'validation', seeds=len(d), mean=round(d.mean(), 4), se=round(se, 4),
                beyond_2se=bool(len(d) > 1 and abs(d.mean()) > 2 * se), positive=int((d > 0).sum()))


def collect(root: Path, out: str) -> str:
    from sagan_seg.metrics import table_markdown
    rows = [json.loads(p.read_text()) for p in sorted(root.glob('*/test.json'))]
    df = pd.DataFrame(rows).sort_values(['frac', 'cond', 'seed'])
    df.to_csv(RESULTS / 'semi_supervised.csv', index=False)
    pd.concat([pd.read_csv(p) for p in sorted(root.glob('*/curve.csv'))], ignore_index=True).to_csv(RESULTS / 'semi_supervised_curves.csv', index=False)
    cols = [c for c in ('val_macro_f1', 'macro_f1', 'f1_podocyte', 'f1_non_podocyte', 'last_semi_trusted', 'last_semi_pseudo_acc',
                        'last_semi_pseudo_acc_fg', 'last_semi_acc_all', 's_per_step') if c in df]
    g = df.groupby(['frac', 'cond'])
    mean = pd.DataFrame({c: [f'{m:.4f} ± {s:.4f}' if n > 1 else f'{m:.4f}' for m, s, n in zip(g[c].mean(), g[c].std(), g[c].count())]
                         for c in cols}, index=g.size().index).assign(seeds=g.size().values)
    comps = [('semi', 'sup'), ('semi', 'self'), ('self', 'sup'), ('semi', 'sup2x'), ('sup2x', 'sup'), ('semi_r0', 'sup'), ('semi_r0', 'semi'), ('both', 'sup'), ('adv', 'sup'), ('all', 'semi')]
    pairs = pd.DataFrame([paired(df, a, b, col, fr) for fr in sorted(set(df.frac) - {1}) for col in ('macro_f1', 'val_macro_f1')
                          for a, b in comps if {a, b} <= set(df.cond)])
    pairs.to_csv(RESULTS / 'semi_supervised_pairs.csv', index=False)
    text = '\n'.join([
        '# Semi-supervised training: does the discriminator earn its place on unlabeled tiles?', '',
        'Command: `python benchmarks/semi_supervised.py --collect` after one `python benchmarks/semi_supervised.py --cond C --frac F --seed S` call per run  ',
        f'Machine: {machine_line(threads=False)}, 1 thread per run, two runs at a time; load average {load_avg()} at collection  ',
        f'Date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC  ',
        f"The demo's model and splits; {int(df[df.cond != 'sup2x'].steps.max())} generator steps per run (`sup2x`: twice), 6 validation points, the best checkpointed "
        'and calibrated on validation; the test split read once per run. Conditions:', '',
        *[f'- `{k}`: {v[2]}' for k, v in CONDITIONS.items() if k in set(df.cond)], '',
        'Mean ± sd over seeds (frac 1 = all labels; `last_semi_*`: the last epoch\'s share of unlabeled pixels trusted and the '
        'accuracy of the trusted pseudo-labels, of their non-background pixels, and of all of G\'s argmax, where the truth is known):', '',
        table_markdown(mean), '',
        'Paired differences (mean and standard error over seeds; `beyond_2se`: |mean| > 2 SE):', '', table_markdown(pairs.set_index('comparison')), '',
        'Per run:', '', table_markdown(df.set_index('cond')), ''])
    return write_results(text, out)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--cond', default='semi', choices=list(CONDITIONS))
    p.add_argument('--frac', type=int, default=8, help='labeled fraction 1/FRAC of the training tiles')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--steps', type=int, default=600)
    p.add_argument('--evals', type=int, default=6)
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--runs', default='runs/semi')
    p.add_argument('--collect', action='store_true')
    p.add_argument('--out', default=str(RESULTS / 'semi_supervised.md'))
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    if a.collect: return collect(Path(a.runs), a.out)
    print(json.dumps(one_run(Path(a.runs), a.cond, a.frac, a.seed, a.steps, a.evals)))


if __name__ == '__main__':
    main()
