"""Where the discriminator should earn its place: every annotated tile from one cohort, the unannotated tiles from another whose glomeruli are larger.

    .venv/bin/python benchmarks/semi_shift.py --cond semi_pix --seed 0     # one run -> runs/semi/shift_c1.6_semi_pix_s0/
    .venv/bin/python benchmarks/semi_shift.py --probe      # before any run: the demo's models on pilot tiles per scale -> results/semi_shift_probe.csv
    .venv/bin/python benchmarks/semi_shift.py --judge      # does D take the target's true maps for real? -> results/semi_shift_judge.csv
    .venv/bin/python benchmarks/semi_shift.py --collect                    # every finished run -> results/semi_shift.{md,csv}

`semi_supervised.py` found that at 1/8 of the labels the unlabeled pool, drawn from the labeled tiles' own distribution,
gives less than more passes over the labeled tiles do. And a pilot outside the reported runs (one seed, not kept)
found that a change of stain (HE -> PAS) opens almost no gap: training's stain jitter covers it. So here the pool differs in what no
augmentation covers. The source cohort is the demo's (`make_splits(seed)`: 256 labeled training tiles, validation and test
at `context_scale` 1). The target cohort is drawn at `context_scale` 1.6: glomeruli 1.6 times as large and the
podocyte rim 1.6 times as deep, at the same 0.5 µm/px, with nuclei of the same size (hypertrophic glomeruli, as in
diabetic or obese kidneys). 256 target tiles form the unlabeled pool (masks set aside, kept only to score); 32 other
target tiles are the target test. The scale 1.6 was fixed from a probe before any run here: the demo's models, applied
to pilot tiles (neither pool nor test), lost macro F1 from scale 1 to 1.6, mostly on podocytes (`--probe`).

This is the setting of Tsai et al. 2018 (adversarial adaptation in the output space): a D that knows what real label
maps look like, judging G's maps on the other cohort. Validation stays on the source cohort (a lab that annotated no
target tile has nothing else), so checkpoints are chosen without target labels. Conditions, all with the demo's model,
600 generator steps and the paired seeds of `semi_supervised.py`:

- `src` (a): supervised on the 256 source tiles. This is `semi_supervised.py`'s `all` run of the same seed (same data,
  config and seed), scored here on the target test, which it has never read;
- `src2x`: (a) at twice the steps, about the minutes (b) and (c) take (`semi_supervised.py`'s `all2x` run, scored
  here on the target test): equal time;
- `self` (b): (a) plus self-training on the target pool's confident pixels (softmax >= 0.9), no D on the pool;
- `semi_pix` (c): (a) plus the pixel D on the target pool, adversarial term and D-ranked pseudo-labels: the variant
  `semi_supervised.py` chose on validation, unchanged;
- `adv_pix` (c''): (a) plus the pixel D's adversarial term on the target pool only, no pseudo-labels (Tsai et al.);
- `oracle` (d): supervised on the source tiles and the target pool with its masks: what labels on the target would give;
- `semi_pix_cls`: `semi_pix` with a bar per class (`semi_supervised.py`'s variant of that name), added after `--judge`
  found the single bar passing mostly glomerular pixels here, less often right than G's pixels as a whole.
"""
import json, math, time
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import torch

from _common import write_results, load_avg, machine_line
from semi_supervised import CONDITIONS, MPP, RESULTS, _link, paired, run_parser, crops, class_bars

SCALE = 1.6
CONDS = {'src': 'all', 'src2x': 'all2x', 'self': 'self', 'semi_pix': 'semi_pix', 'oracle': 'all', 'semi_pix_cls': 'semi_pix_cls'}          # -> semi_supervised's TrainConfig overrides
EXTRA = {'adv_pix': (dict(lambda_adv_u=0.01, disc=dict(output='pixel')), True, "(c'') the pixel D's adversarial term on the target pool only, no pseudo-labels")}
WHAT = {'src': '(a) supervised on the source tiles (semi_supervised.py\'s `all` run, scored on the target test)',
        'src2x': "(a) at twice the steps, about the minutes of (b) and (c) (equal time): semi_supervised.py's `all2x` run, scored on the target test",
        'self': '(b) + self-training on the target pool\'s confident pixels, no D on the pool',
        'semi_pix': '(c) + the pixel D on the target pool: adversarial term and D-ranked pseudo-labels',
        'adv_pix': EXTRA['adv_pix'][2], 'oracle': '(d) supervised on the source tiles and the target pool with its masks',
        'semi_pix_cls': "`semi_pix` with a bar per class: a pixel G calls class k passes at the median of D's scores on real pixels of class k"}


def target(root: Path, seed: int, scale: float = SCALE) -> dict:
    "The target cohort's pool (256 tiles) and test (32 tiles) at `scale` (cached), and a folder of source + target labeled tiles."
    from sagan_seg.synth import write_synthetic_dataset
    from sagan_seg.demo import make_splits
    d, src = root / f'data_s{seed}', make_splits(root / f'data_s{seed}', seed=seed)['train']
    out = {}
    for name, n, s in (('pool', 256, 31_000), ('test', 32, 41_000)):
        f = d / f'{name}_c{scale}'
        if not (f / 'tiles.json').is_file():
            write_synthetic_dataset(f, n, 256, seed=s + seed, overwrite=True, context_scale=scale)
            (f / 'tiles.json').write_text(json.dumps(dict(mpp=MPP, tile=256, note=f'synthetic tiles at context_scale {scale}')))
        out[name] = f
    both = d / f'oracle_c{scale}'
    for tag, f in (('s', src), ('t', out['pool'])):
        for p in sorted((f / 'images').glob('*.png')):
            for sub in ('images', 'masks'): _link(f / sub / p.name, both / sub / f'{tag}{p.name}')
    (both / 'classes.csv').write_text((src / 'classes.csv').read_text())
    (both / 'tiles.json').write_text(json.dumps(dict(mpp=MPP, tile=256)))
    return dict(out, oracle=both)


def score(G, folder) -> dict:
    from sagan_seg.demo import score_test_split, headline
    h = headline(score_test_split(G, folder)[0])
    return {k: round(float(h[k]), 4) for k in ('macro_f1', 'f1_podocyte', 'f1_non_podocyte', 'f1_glomeruli')}


def one_run(root: Path, cond: str, seed: int, steps: int, evals: int, scale: float = SCALE) -> dict:
    from sagan_seg.demo import demo_config, make_splits
    from sagan_seg.fitting import fit
    from sagan_seg.checkpoints import load_generator
    sp, t = make_splits(root / f'data_s{seed}', seed=seed), target(root, seed, scale)
    out = root / f'shift_c{scale}_{cond}_s{seed}'
    if cond in ('src', 'src2x'):            # semi_supervised.py's `all` (`all2x`) run: its checkpoint, its validation and source test
        run = root / f'{CONDS[cond]}_s{seed}'
        a = json.loads((run / 'test.json').read_text())
        row = dict(cond=cond, scale=scale, seed=seed, steps=a['steps'], minutes=a['minutes'], val_macro_f1=a['val_macro_f1'], macro_f1_src=a['macro_f1'])
        G = load_generator(run / 'best.pt')
    else:
        tr, uses_pool, _ = EXTRA[cond] if cond in EXTRA else CONDITIONS[CONDS[cond]]
        pool = dict(unlabeled=[str(t['pool'])], pseudo_start=0.3) if uses_pool else {}
        cfg = demo_config(t['oracle'] if cond == 'oracle' else sp['train'], sp['val'], out, seed, epochs=evals, steps_per_epoch=math.ceil(steps / evals),
                          progress=False, layout='channels_last', amp='none', mpp=MPP, **pool, **tr)
        t0 = time.time()
        hist = fit(cfg)
        G = load_generator(out / 'best.pt')
        row = dict(cond=cond, scale=scale, seed=seed, steps=int(hist.step.iloc[-1]), minutes=round((time.time() - t0) / 60, 2),
                   val_macro_f1=round(float(hist.val_f1.max()), 4), macro_f1_src=score(G, sp['test'])['macro_f1'])   # source test: read once
        for k in ('semi_trusted', 'semi_pseudo_acc', 'semi_pseudo_acc_fg', 'semi_acc_all'):
            if k in hist: row[f'last_{k}'] = round(float(hist[k].iloc[-1]), 4)
        keep = [c for c in ('epoch', 'step', 'val_f1', 'semi_trusted', 'semi_pseudo_acc', 'semi_pseudo_acc_fg', 'semi_acc_all') if c in hist]
        hist[keep].assign(cond=cond, seed=seed).to_csv(out / 'curve.csv', index=False)
    row.update(score(G, t['test']))                                       # the target test: read once per run
    row['pool_macro_f1'] = score(G, t['pool'])['macro_f1']                # the pool it saw without masks (its masks: scoring only)
    out.mkdir(parents=True, exist_ok=True)
    (out / 'test.json').write_text(json.dumps(row, indent=1))
    return row


@torch.no_grad()
def d_scores(D, G, folder, n: int = 32, skip: int = 0, crop: int = 64):
    "D's per-pixel scores (upsampled to the crop) on the true pairs and on G's pairs of `n` tiles of `folder` (after `skip`), cut into `crop`-px crops as in training; whether G's pixels are right and not background; the true and predicted classes."
    import torch.nn.functional as F
    from sagan_seg.data import read_image, read_mask
    from sagan_seg.core import image_to_tensor
    real, fake, truth, pred = [], [], [], []
    up = lambda s: F.interpolate(s[:, None], size=(crop, crop), mode='bilinear', align_corners=False)[:, 0] if s.ndim == 3 else s[:, None, None].expand(-1, crop, crop)
    for ip in sorted((folder / 'images').glob('*.png'))[skip:skip + n]:
        x, y = image_to_tensor(read_image(ip)), torch.from_numpy(read_mask(folder / 'masks' / ip.name).astype('int64'))
        xs, ys = crops(x, crop), crops(y, crop)
        logits = G(xs).float()
        real.append(up(D(xs, D.real_map(ys)).float()).flatten()); fake.append(up(D(xs, D.fake_map(logits)).float()).flatten())
        truth.append(ys.flatten()); pred.append(logits.argmax(1).flatten())
    real, fake, truth, pred = (torch.cat(v) for v in (real, fake, truth, pred))
    return real, fake, pred == truth, truth > 0, truth, pred


def judge(root: Path, cond: str, seed: int, scale: float = SCALE) -> dict:
    """Does D, which learnt "real" from source masks only, take the target cohort's *true* maps for real? At the end of a run
    (`last.pt`): the rank bar from D's scores on true pairs of 32 source tiles (as in training), then the share of pixels at or
    above it on true pairs of 32 other source tiles (about `pseudo_rank` by construction) and of 32 target pool tiles, and on
    G's pairs of those target tiles (what D trusts) with their accuracy and their share of non-background pixels (beside
    the tiles' own share, and G's accuracy there). A D that scores true target maps below the bar
    would turn down even perfect pseudo-labels on the target cohort."""
    from sagan_seg.checkpoints import load_checkpoint, generator_from_checkpoint, load_state
    from sagan_seg.discriminator import Discriminator
    from sagan_seg.demo import make_splits
    torch.manual_seed(seed)                                   # real maps are softened at random, as in training
    ck = load_checkpoint(root / f'shift_c{scale}_{cond}_s{seed}' / 'last.pt')
    G = generator_from_checkpoint(ck).eval()
    D = Discriminator.from_config(ck['config']['discriminator']); load_state(D, ck['discriminator'], 'discriminator'); D.eval()
    src, t = make_splits(root / f'data_s{seed}', seed=seed)['train'], target(root, seed, scale)
    rank, ref = ck['config'].get('pseudo_rank', 0.5), d_scores(D, G, src)
    n = ck['config']['generator']['n_classes']                # each pixel's bar: bars[its class], set on real source pixels
    bars = (torch.from_numpy(class_bars(ref[0].numpy(), ref[4].numpy(), rank, n)) if ck['config'].get('pseudo_bar', 'all') == 'class'
            else torch.full((n,), torch.quantile(ref[0], rank).item()))
    at = lambda cls: bars[cls]
    src_real, _, _, _, src_truth, _ = d_scores(D, G, src, skip=32)
    tgt_real, tgt_fake, right, fg, tgt_truth, tgt_pred = d_scores(D, G, t['pool'])
    trusted = tgt_fake >= at(tgt_pred)
    return dict(cond=cond, seed=seed, src_true_pass=round((src_real >= at(src_truth)).float().mean().item(), 4), tgt_true_pass=round((tgt_real >= at(tgt_truth)).float().mean().item(), 4),
                tgt_g_pass=round(trusted.float().mean().item(), 4), tgt_g_pass_acc=round(right[trusted].float().mean().item(), 4) if trusted.any() else float('nan'),
                tgt_g_acc=round(right.float().mean().item(), 4), tgt_g_pass_fg=round(fg[trusted].float().mean().item(), 4) if trusted.any() else float('nan'),
                tgt_fg=round(fg.float().mean().item(), 4), tgt_acc_fg=round(right[fg].float().mean().item(), 4))


def judge_all(root: Path) -> pd.DataFrame:
    "`judge` for every finished run with D on the target pool -> results/semi_shift_judge.csv (cached per run)."
    rows = []
    for cond in ('semi_pix', 'adv_pix', 'semi_pix_cls'):
        for run in sorted(root.glob(f'shift_c{SCALE}_{cond}_s*')):
            if not (run / 'test.json').is_file(): continue
            cache = run / 'judge.json'
            if not cache.is_file(): cache.write_text(json.dumps(judge(root, cond, int(run.name.rsplit('_s', 1)[1]))))
            rows.append(json.loads(cache.read_text())); print(rows[-1], flush=True)
    df = pd.DataFrame(rows); df.to_csv(RESULTS / 'semi_shift_judge.csv', index=False)
    return df


def probe(root: Path, scales=(1.0, 1.3, 1.6), n: int = 24) -> pd.DataFrame:
    "How the `all_s0` and `sup2x_f8_s0` runs of semi_supervised.py score on `n` pilot tiles (neither pool nor test) per context scale: how the scale was chosen."
    from sagan_seg.synth import write_synthetic_dataset
    from sagan_seg.checkpoints import load_generator
    rows = []
    for s in scales:
        d = root / 'probe' / f'c{s}'
        if not (d / 'tiles.json').is_file():
            write_synthetic_dataset(d, n, 256, seed=777, overwrite=True, context_scale=s); (d / 'tiles.json').write_text(json.dumps(dict(mpp=MPP)))
        for run in ('all_s0', 'sup2x_f8_s0'):
            rows.append(dict(scale=s, run=run, **score(load_generator(root / run / 'best.pt'), d))); print(rows[-1], flush=True)
    df = pd.DataFrame(rows); df.to_csv(RESULTS / 'semi_shift_probe.csv', index=False)
    return df


COMPS = [('self', 'src'), ('semi_pix', 'src'), ('src2x', 'src'), ('semi_pix', 'src2x'), ('adv_pix', 'src'), ('semi_pix', 'self'), ('adv_pix', 'self'), ('semi_pix', 'adv_pix'),
         ('oracle', 'src'), ('oracle', 'semi_pix'), ('semi_pix_cls', 'src'), ('semi_pix_cls', 'self'), ('semi_pix_cls', 'semi_pix')]


def judged(table_markdown) -> list:
    "The `--probe` and `--judge` tables' lines for the results file (the judge's: mean over seeds), where they were run."
    out = []
    if (RESULTS / 'semi_shift_probe.csv').is_file():
        out += ["How the scale was chosen, before any run (`--probe`): the demo's models on 24 pilot tiles per context scale:", '',
                table_markdown(pd.read_csv(RESULTS / 'semi_shift_probe.csv').set_index('scale')), '']
    if not (RESULTS / 'semi_shift_judge.csv').is_file(): return out
    j = pd.read_csv(RESULTS / 'semi_shift_judge.csv')
    return out + ["Does D take the target cohort's true maps for real? (`--judge`; shares of pixels at or above the run's rank bar, set on "
            "source tiles; mean over seeds):", '', table_markdown(j.groupby('cond').mean(numeric_only=True).drop(columns='seed').round(4)), '']


def collect(root: Path, out: str, scale: float = SCALE) -> str:
    from sagan_seg.metrics import table_markdown
    df = pd.DataFrame([json.loads(p.read_text()) for p in sorted(root.glob(f'shift_c{scale}_*/test.json'))])
    df = df.assign(frac=1).sort_values(['cond', 'seed'])
    df.drop(columns='frac').to_csv(RESULTS / 'semi_shift.csv', index=False)
    curves = [pd.read_csv(p) for p in sorted(root.glob(f'shift_c{scale}_*/curve.csv'))]
    if curves: pd.concat(curves, ignore_index=True).to_csv(RESULTS / 'semi_shift_curves.csv', index=False)
    cols = [c for c in ('macro_f1', 'f1_podocyte', 'f1_non_podocyte', 'macro_f1_src', 'val_macro_f1', 'pool_macro_f1',
                        'last_semi_trusted', 'last_semi_pseudo_acc_fg', 'last_semi_acc_all') if c in df]
    g = df.groupby('cond')
    mean = pd.DataFrame({c: [f'{m:.4f} ± {s:.4f}' if n > 1 else f'{m:.4f}' for m, s, n in zip(g[c].mean(), g[c].std(), g[c].count())]
                         for c in cols}, index=g.size().index).assign(seeds=g.size().values)
    rows = []
    for col, what in (('macro_f1', 'target test'), ('macro_f1_src', 'source test'), ('val_macro_f1', 'source validation'), ('pool_macro_f1', 'target pool')):
        for a, b in COMPS:
            if {a, b} <= set(df.cond): rows.append({**paired(df, a, b, col, 1), 'frac': 'all', 'metric': what})
    pairs = pd.DataFrame(rows)
    pairs.to_csv(RESULTS / 'semi_shift_pairs.csv', index=False)
    text = '\n'.join([
        f'# Semi-supervised adaptation: labels from one cohort, unlabeled tiles from another (context scale {scale})', '',
        'Command: `python benchmarks/semi_shift.py --collect` after one `python benchmarks/semi_shift.py --cond C --seed S` call per run  ',
        f'Machine: {machine_line(threads=False)}, 1 thread per run, two runs at a time; load average {load_avg()} at collection  ',
        f'Date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC  ',
        f"The demo's model; {int(df.steps.max())} generator steps per run, 6 validation points on the source cohort, the best checkpointed; "
        'each test split read once per run. Conditions:', '',
        *[f'- `{k}`: {v}' for k, v in WHAT.items() if k in set(df.cond)], '',
        'Mean ± sd over seeds (`macro_f1` and the per-class F1: the target test; `pool_macro_f1`: the target pool the run saw '
        'without masks; `last_semi_*`: the last epoch\'s trusted share and accuracies on the pool):', '',
        table_markdown(mean), '',
        'Paired differences (mean and standard error over seeds; `beyond_2se`: |mean| > 2 SE):', '',
        table_markdown(pairs.set_index('comparison')) if len(pairs) else '(none yet: fewer than two conditions)', '',
        *judged(table_markdown),
        'Per run:', '', table_markdown(df.drop(columns='frac').set_index('cond')), ''])
    return write_results(text, out)


def main(argv=None):
    p = run_parser(__doc__, WHAT, 'semi_pix', RESULTS / 'semi_shift.md', "does D take the target cohort's true maps for real? (results/semi_shift_judge.csv)")
    p.add_argument('--probe', action='store_true', help="the demo's models on pilot tiles per context scale (results/semi_shift_probe.csv)")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    if a.collect: return collect(Path(a.runs), a.out)
    if a.judge: return judge_all(Path(a.runs))
    if a.probe: return probe(Path(a.runs))
    print(json.dumps(one_run(Path(a.runs), a.cond, a.seed, a.steps, a.evals)))


if __name__ == '__main__':
    main()
