"""When does attention pay off? A plain residual U-Net against attention and its controls as the deciding context moves away.

    nice -n 10 .venv/bin/python benchmarks/context_sweep.py                      # the recorded sweep (see --help)
    .venv/bin/python benchmarks/context_sweep.py --tiny --out-csv '' --out-md ''  # seconds-long smoke run
    .venv/bin/python benchmarks/context_sweep.py --collect A.csv B.csv           # merge two workers' CSVs, write the summary

Variants (all at the bottleneck of the same depth-2 U-Net; `VARIANTS` below): the plain U-Net; the paper's SAGAN
attention; position-aware attention (`SelfAttention2d(variant='position')`: 4 heads, scaled logits, a distance bias
with learned per-head slopes, a per-channel gate starting at 0.1); the same without its content term (position only:
a learned blur); a dilated U-Net (the bottleneck's 3x3 convolutions dilated 4x: the convolutions reach past the
deciding distance at the plain U-Net's cost). Per run also: the knock-out (test macro F1 with every gate at 0), the
gate over time against the learning rate summed over the steps, and the share of each podocyte query's attention
within 1.5x the deciding distance (on validation tiles; beside it the share a uniform attention would give).

The synthetic generator's `context_scale` s multiplies the glomerulus radius and the two depth bands (podocytes
7.5-10.5 px below the tuft surface, non-podocytes >= 14 px): a nucleus's class is decided by where the tuft surface
lies, INNER_DEPTH * s = 14 s px away or nearer; nuclei keep their size and spacing. A SHALLOW generator (depth 2: the
convolutions see a 58 px square, 29 px either way, measured by `sagan_seg.generator.receptive_field`) is trained
with and without self-attention at its bottleneck, no GAN (no discriminator for either variant), at EQUAL STEPS,
on 96 px crops (48 px either way of the centre: they hold the context at every s here). Per scale s: its own train / val / test tiles (256 px,
data seeds as the demo's `split_seed(0, split)`); the best checkpoint by validation macro F1 (its logit bias
calibrated on validation, `fit`'s default) is scored once on the test split. Runs go seed by seed, then scale,
then variant, and every finished run is appended to the CSV at once, so a partial sweep is usable.
"""
import argparse, os, sys, time
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import torch

HERE = Path(__file__).parent
VARIANTS = {'plain U-Net': dict(attn_levels=()),
            'paper attention': dict(attn_levels=('bottleneck',)),
            'position-aware attention': dict(attn_levels=('bottleneck',), attn_variant='position'),
            'position only': dict(attn_levels=('bottleneck',), attn_variant='position', attn_content=False),
            'dilated U-Net': dict(attn_levels=(), bottleneck_dilation=4)}
TILE = 256


def effective_rf(g, folder, mass=0.99) -> int:
    "Half-side (px) of the centred square holding `mass` of the centre pixel's input gradient, on the first tile of `folder`."
    from sagan_seg.data import SegFolder
    from sagan_seg.core import image_to_tensor
    from sagan_seg.generator import receptive_field
    img, _ = SegFolder(folder, mode='full', augment=False).load(0)
    return receptive_field(g, x=image_to_tensor(img)[None], mass=mass)['r_mass']   # group norm's statistics reach every pixel


@torch.no_grad()
def attention_within(g, folder, radius_px: float, n_tiles: int = 4) -> tuple[float, float]:
    """(attention share, uniform share): the mean share of a podocyte query's bottleneck attention on keys within
    `radius_px` of it, over the podocyte queries of the first `n_tiles` tiles of `folder`; and the share a uniform
    attention would give the same queries (nan, nan without bottleneck attention)."""
    from sagan_seg.data import SegFolder
    from sagan_seg.core import image_to_tensor, eval_mode
    if 'bottleneck' not in g.attention_layers(): return float('nan'), float('nan')
    data, stride = SegFolder(folder, mode='full', augment=False), 2 ** g.cfg.depth
    got, uni = [], []
    for i in range(min(n_tiles, len(data.pairs))):
        img, mask = data.load(i)
        with eval_mode(g): _, maps = g(image_to_tensor(img)[None], return_attn=True)
        a = maps['bottleneck'][0]                                              # (N, N), N = (H/stride)(W/stride)
        h, w = mask.shape[0] // stride, mask.shape[1] // stride
        centre = torch.as_tensor(mask[stride // 2::stride, stride // 2::stride][:h, :w] == 2).flatten()  # podocyte queries
        if not centre.any(): continue
        yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing='ij')
        p = torch.stack([yy.flatten(), xx.flatten()], -1).float()
        near = torch.cdist(p[centre], p) * stride <= radius_px                 # (n_pod, N)
        got.append((a[centre] * near).sum(1)); uni.append(near.float().mean(1))
    if not got: return float('nan'), float('nan')
    return float(torch.cat(got).mean()), float(torch.cat(uni).mean())


def lr_sum(cfg, steps: int) -> float:
    "The generator's learning rate summed over the run's steps: about how far Adam can move one parameter."
    from sagan_seg.step import lr_factor
    return float(sum(cfg.lr_g * lr_factor(t, steps, cfg.lr_schedule, cfg.lr_final) for t in range(steps)))


def one_run(args, s, name, seed, data, gen, rf_px, root, say) -> tuple[dict, pd.DataFrame]:
    "Train one variant at one scale and seed; score its best checkpoint once on the test split. (row, gate history)"
    import copy
    from sagan_seg.synth import INNER_DEPTH
    from sagan_seg.demo import demo_config, headline
    from sagan_seg.data import SegFolder
    from sagan_seg.step import evaluate
    from sagan_seg.fitting import fit
    from sagan_seg.checkpoints import load_generator
    from sagan_seg.ablation import knockout
    run = run_dir(root, s, name, seed)
    over = dict(VARIANTS[name])
    if over.get('attn_variant') == 'position': over['attn_lr_mult'] = args.attn_lr_mult
    cfg = demo_config(data['train'], data['val'], run, seed, dict(**gen, **over), None,
                      gan=False, crop=args.crop, batch_size=args.batch_size, progress=False,
                      epochs=args.epochs, steps_per_epoch=args.steps // args.epochs, fg_bias=0.5)   # as recorded (before recipes.py)
    say(f's={s:g} {name} seed {seed} ...')
    t0 = time.time()
    hist = fit(cfg)
    minutes = (time.time() - t0) / 60
    g = load_generator(run / 'best.pt', device='cpu')
    erf = {m: effective_rf(g, data['val'], m) for m in (0.5, 0.9)}         # on a validation tile, not the test split
    test = SegFolder(data['test'], mode='full', augment=False)
    h = headline(evaluate(g, test))                                         # the test split: the reported score
    ko = knockout(copy.deepcopy(g), test).get('ko_macro_f1', float('nan'))   # the same model, every gate at 0 (20_ablation's)
    deciding = INNER_DEPTH * s
    within, uniform = attention_within(g, data['val'], 1.5 * deciding)
    steps = int(hist.step.iloc[-1])
    row = dict(scale=s, deciding_px=deciding, variant=name, seed=seed, steps=steps,
               best_epoch=int(hist.epoch.iloc[int(hist.val_f1.argmax())]), epochs=args.epochs, val_macro_f1=float(hist.val_f1.max()),
               minutes=round(minutes, 2), rf_px=rf_px, rf_radius_px=(rf_px - 1) // 2, erf50_px=erf[0.5], erf90_px=erf[0.9],
               macro_f1=h['macro_f1'], f1_podocyte=h['f1_podocyte'], f1_non_podocyte=h['f1_non_podocyte'],
               f1_glomeruli=h['f1_glomeruli'], nuclei_f1=(h['f1_podocyte'] + h['f1_non_podocyte']) / 2,
               knockout_macro_f1=ko, knockout_drop=h['macro_f1'] - ko if ko == ko else float('nan'),
               attn_within_1p5d=within, uniform_within_1p5d=uniform,
               attn_lr_mult=over.get('attn_lr_mult', float('nan')), lr_sum=lr_sum(cfg, steps))
    gcol = 'gamma_G.bottleneck'
    gam = hist[['epoch', 'step', gcol]].rename(columns={gcol: 'gate'}) if gcol in hist else pd.DataFrame()
    if len(gam): gam = gam.assign(variant=name, seed=seed, deciding_px=deciding,
                                  lr_sum=[lr_sum(cfg, int(t)) for t in gam.step])
    row['gate_end'] = float(gam.gate.iloc[-1]) if len(gam) else float('nan')
    say(f'  -> macro {h["macro_f1"]:.4f} podocyte {h["f1_podocyte"]:.4f} non-podocyte {h["f1_non_podocyte"]:.4f} '
        f'knock-out {ko:.4f} ({minutes:.1f} min)')
    return row, gam


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--scales', type=float, nargs='+', default=[3.0, 1.0], help='context scales s (deciding distance 14 s px)')
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2], help='training seeds')
    p.add_argument('--variants', nargs='+', default=list(VARIANTS), choices=list(VARIANTS), metavar='VARIANT',
                   help=f'which variants (default all: {", ".join(VARIANTS)})')
    p.add_argument('--attn-lr-mult', type=float, default=10.0, help="the 'position' variants' gate/slope learning-rate multiplier")
    p.add_argument('--steps', type=int, default=1200, help='generator steps per run (equal steps)')
    p.add_argument('--epochs', type=int, default=6, help='validation points per run (steps are split evenly)')
    p.add_argument('--crop', type=int, default=96, help='training crop, px')
    p.add_argument('--batch-size', type=int, default=4)
    p.add_argument('--depth', type=int, default=2, help='generator depth (number of 2x poolings)')
    p.add_argument('--n-train', type=int, default=128); p.add_argument('--n-val', type=int, default=8)
    p.add_argument('--n-test', type=int, default=32)
    p.add_argument('--threads', type=int, default=1, help='torch threads')
    p.add_argument('--runs', default='runs/context_sweep', help='folder for data and runs')
    p.add_argument('--tiny', action='store_true', help='seconds-long smoke version')
    p.add_argument('--append', action='store_true', help='keep the runs already in --out-csv and skip them (same settings assumed)')
    p.add_argument('--collect', nargs='+', metavar='CSV', help='only merge these per-run CSVs (and their *_gates.csv) into --out-csv / --out-md')
    p.add_argument('--note', default='', help='a line for the summary (how the runs were launched)')
    p.add_argument('--out-csv', default=str(HERE / 'results' / 'context_controls.csv'), help="per-run CSV ('' for none)")
    p.add_argument('--out-md', default=str(HERE / 'results' / 'context_controls.md'), help="Markdown summary ('' for none)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    from sagan_seg.synth import write_synthetic_dataset
    from sagan_seg.demo import split_seed, cpu_name
    from sagan_seg.generator import Generator, GeneratorConfig, receptive_field
    tile, n = TILE, dict(train=args.n_train, val=args.n_val, test=args.n_test)
    gen = dict(depth=args.depth, base_width=16)
    if args.tiny: tile, n, gen, args.steps, args.epochs, args.crop = 64, dict(train=4, val=1, test=1), dict(depth=2, base_width=8), 4, 2, 64
    cmd = 'nice -n 10 .venv/bin/python benchmarks/context_sweep.py' + (' ' + ' '.join(argv if argv is not None else sys.argv[1:])).rstrip()
    torch.manual_seed(0)
    rf = receptive_field(Generator(GeneratorConfig(**gen, attn_levels=(), norm='none')), size=4 * 2**args.depth * 16)
    rf_px = rf['extent']                                     # the convolutions' reach: a square of this side
    say = lambda s: print(f'[{datetime.now():%H:%M:%S}] {s}', file=sys.stderr, flush=True)
    root, rows, gates = Path(args.runs), [], []
    out_csv = Path(args.out_csv) if args.out_csv else root / 'context_sweep.csv'
    gates_csv = out_csv.with_name(out_csv.stem + '_gates.csv')
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    if args.collect:
        runs = pd.concat([pd.read_csv(f) for f in args.collect], ignore_index=True)
        gl = [Path(f).with_name(Path(f).stem + '_gates.csv') for f in args.collect]
        gts = pd.concat([pd.read_csv(f) for f in gl if f.is_file()], ignore_index=True)
        runs.to_csv(out_csv, index=False); gts.to_csv(gates_csv, index=False)
        if args.out_md: write_md(runs, args, args.note or cmd, cpu_name(), int(runs.rf_px.iloc[0]))
        return runs
    say(f'receptive field of the depth-{args.depth} U-Net: {rf_px} px square ({(rf_px - 1) // 2} px either way)')
    if args.append and out_csv.is_file(): rows = pd.read_csv(out_csv).to_dict('records')   # an interrupted sweep goes on
    if args.append and gates_csv.is_file(): gates = [pd.read_csv(gates_csv)]
    done = {(float(r['scale']), r['variant'], int(r['seed'])) for r in rows}
    data = {}
    for seed in args.seeds:                        # seeds outermost: after each seed the whole curve exists once more
        for s in args.scales:
            if all((float(s), v, seed) in done for v in args.variants): continue
            if s not in data:                      # each scale's data, written once (the same for every seed and variant)
                d = root / f'data_s{s:g}'; data[s] = {}
                for split in ('train', 'val', 'test'):
                    t = time.time()
                    data[s][split] = write_synthetic_dataset(d / split, n[split], tile, split_seed(0, split), overwrite=True, context_scale=s)
                    say(f's={s:g} {split}: {n[split]} tiles in {time.time() - t:.0f} s')
            for name in args.variants:
                if (float(s), name, seed) in done: continue
                row, gam = one_run(args, s, name, seed, data[s], gen, rf_px, root, say)
                rows.append(row); gates.append(gam)
                pd.DataFrame(rows).to_csv(out_csv, index=False)      # after every run: a partial sweep is usable
                pd.concat(gates, ignore_index=True).to_csv(gates_csv, index=False)
                if args.out_md: write_md(pd.DataFrame(rows), args, cmd, cpu_name(), rf_px)
    return pd.DataFrame(rows)


def run_dir(root, s, name, seed) -> Path:
    return Path(root) / 'runs' / f's{s:g}' / name.replace(' ', '_').replace('+', 'plus') / f'seed{seed}'


def paired(runs: pd.DataFrame, col: str, a: str, b: str) -> pd.DataFrame:
    "Per deciding distance: mean, standard error and n of `col`(a) - `col`(b) over the seeds both ran."
    out = []
    for dpx, grp in runs.groupby('deciding_px'):
        w = grp.pivot_table(index='seed', columns='variant', values=col)
        if a not in w or b not in w: continue
        d = (w[a] - w[b]).dropna()
        out.append(dict(deciding_px=int(round(dpx)), n=len(d), mean=d.mean(), se=d.std(ddof=1) / len(d) ** 0.5 if len(d) > 1 else float('nan')))
    return pd.DataFrame(out)


def summary(runs: pd.DataFrame) -> pd.DataFrame:
    "Mean ± sd over seeds of the test F1s, the knock-out and the attention diagnostics, per scale and variant."
    runs = runs.assign(deciding_px=runs.deciding_px.round().astype(int)).sort_values(['scale', 'variant'], kind='stable',
                                                                                     key=lambda c: c if c.name == 'scale' else c.map({v: i for i, v in enumerate(VARIANTS)}))
    g = runs.groupby(['scale', 'deciding_px', 'variant'], sort=False)
    ms = lambda c: g[c].agg(lambda v: '' if v.isna().all() else f'{v.mean():.4f} ± {v.std(ddof=1) if len(v) > 1 else 0:.4f}')
    return pd.DataFrame({'runs': g.size(), 'macro F1': ms('macro_f1'), 'podocyte F1': ms('f1_podocyte'),
                         'non-podocyte F1': ms('f1_non_podocyte'), 'nuclei F1': ms('nuclei_f1'), 'glomeruli F1': ms('f1_glomeruli'),
                         'knock-out macro F1': ms('knockout_macro_f1'), 'gate at the end': g.gate_end.mean().round(3),
                         'attention within 1.5 d': g.attn_within_1p5d.mean().round(3), 'uniform within 1.5 d': g.uniform_within_1p5d.mean().round(3),
                         'best epoch': g.best_epoch.mean().round(1), 'minutes (mean)': g.minutes.mean().round(1)}).reset_index()


def differences(runs: pd.DataFrame) -> pd.DataFrame:
    "Paired differences against the plain U-Net (nuclei and macro F1) and each attention variant's knock-out drop."
    out = []
    for v in [v for v in VARIANTS if v != 'plain U-Net' and v in set(runs.variant)]:
        for col, label in (('nuclei_f1', 'nuclei F1'), ('macro_f1', 'macro F1')):
            for r in paired(runs, col, v, 'plain U-Net').itertuples():
                out.append(dict(deciding_px=r.deciding_px, comparison=f'{v} − plain U-Net', measure=label, seeds=r.n,
                                difference=f'{r.mean:+.4f} ± {r.se:.4f}', **{'gain > 2 SE': bool(r.mean > 2 * r.se)}))
        ko = runs[runs.variant == v].dropna(subset=['knockout_drop'])
        for dpx, grp in ko.groupby('deciding_px'):
            d = grp.knockout_drop
            out.append(dict(deciding_px=int(round(dpx)), comparison=f'{v}: knock-out drop', measure='macro F1', seeds=len(d),
                            difference=f'{d.mean():+.4f} ± {d.std(ddof=1) / len(d) ** 0.5 if len(d) > 1 else float("nan"):.4f}',
                            **{'gain > 2 SE': bool(len(d) > 1 and d.mean() > 2 * d.std(ddof=1) / len(d) ** 0.5)}))
    cols = ['deciding_px', 'comparison', 'measure', 'seeds', 'difference', 'gain > 2 SE']
    return pd.DataFrame(out, columns=cols).sort_values(['deciding_px'], kind='stable')


def write_md(runs, args, cmd, cpu, rf_px):
    from sagan_seg.metrics import table_markdown
    lrm = runs.attn_lr_mult.dropna().unique()
    text = '\n'.join([
        '# When does attention pay off? The plain U-Net against attention and its controls as the deciding context moves away', '',
        f'Command: `{cmd}`  ',
        f'CPU: {cpu}; {args.threads} torch thread(s) per run, two runs side by side on 2 cores (load beside other jobs)  ',
        f'Date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; {len(runs)} runs, {runs.minutes.sum():.0f} min of training in all '
        f'(mean {runs.minutes.mean():.1f} min per run)  ',
        f'Budget: {int(runs.steps.max())} generator steps per run (equal steps), {int(runs.epochs.max())} validation points, batch {args.batch_size}, '
        f'{args.crop} px crops; depth-{args.depth} residual U-Net, width 16, group norm, no GAN. Attention at the bottleneck only. '
        f'Variants: plain U-Net; paper attention (the SAGAN layer); position-aware attention (4 heads, scaled logits, a learned '
        f'per-head distance bias, per-channel gate from 0.1, gate/slope learning-rate multiplier {", ".join(f"{x:g}" for x in lrm)}); '
        f'position only (the same without q·k); dilated U-Net (bottleneck convolutions dilated 4x). '
        f'Receptive field of the plain convolutions: {rf_px} px square, {(rf_px - 1) // 2} px either way. Deciding distance d = 14 s px. '
        'Test split (per scale) read once per run by the best checkpoint on validation macro F1 (and once more with every gate at 0: '
        'the knock-out). Nuclei F1 = mean of podocyte and non-podocyte F1. Gate at the end: the gate\'s value (RMS over channels '
        'for a per-channel gate). Attention within 1.5 d: the share of a podocyte query\'s bottleneck attention on keys within '
        '1.5 x the deciding distance (validation tiles), beside the share a uniform attention would give. Mean ± sd over seeds.', '',
        table_markdown(summary(runs).set_index('scale')), '',
        '**Paired differences** (same seed, same data; mean ± standard error over seeds):', '',
        table_markdown(differences(runs).set_index('deciding_px')), '',
        'Per run: `benchmarks/results/context_controls.csv`; the gate per epoch: `context_controls_gates.csv`.', ''])
    p = Path(args.out_md); p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + '.partial'); tmp.write_text(text); os.replace(tmp, p)


if __name__ == '__main__':
    main()
