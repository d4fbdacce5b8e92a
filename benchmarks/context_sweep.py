"""When does attention pay off? Plain residual U-Net vs U-Net + attention as the deciding context moves away.

    nice -n 10 .venv/bin/python benchmarks/context_sweep.py                      # the recorded sweep (see --help)
    .venv/bin/python benchmarks/context_sweep.py --tiny --out-csv '' --out-md ''  # seconds-long smoke run

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
VARIANTS = {'residual U-Net': (), 'U-Net + attention': ('bottleneck',)}
TILE = 256


def effective_rf(g, folder, mass=0.99) -> int:
    "Half-side (px) of the centred square holding `mass` of the centre pixel's input gradient, on the first tile of `folder`."
    from sagan_seg.data import SegFolder
    from sagan_seg.core import image_to_tensor
    from sagan_seg.generator import receptive_field
    img, _ = SegFolder(folder, mode='full', augment=False).load(0)
    return receptive_field(g, x=image_to_tensor(img)[None], mass=mass)['r_mass']   # group norm's statistics reach every pixel


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--scales', type=float, nargs='+', default=[1.0, 3.0], help='context scales s')
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2], help='training seeds')
    p.add_argument('--steps', type=int, default=400, help='generator steps per run (equal steps)')
    p.add_argument('--epochs', type=int, default=4, help='validation points per run (steps are split evenly)')
    p.add_argument('--crop', type=int, default=96, help='training crop, px')
    p.add_argument('--batch-size', type=int, default=4)
    p.add_argument('--depth', type=int, default=2, help='generator depth (number of 2x poolings)')
    p.add_argument('--n-train', type=int, default=128); p.add_argument('--n-val', type=int, default=8)
    p.add_argument('--n-test', type=int, default=32)
    p.add_argument('--threads', type=int, default=1, help='torch threads')
    p.add_argument('--runs', default='runs/context_sweep', help='folder for data and runs')
    p.add_argument('--tiny', action='store_true', help='seconds-long smoke version')
    p.add_argument('--append', action='store_true', help='keep the runs already in --out-csv and skip them (same settings assumed)')
    p.add_argument('--out-csv', default=str(HERE / 'results' / 'context_sweep.csv'), help="per-run CSV ('' for none)")
    p.add_argument('--out-md', default=str(HERE / 'results' / 'context_sweep.md'), help="Markdown summary ('' for none)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    from sagan_seg.synth import write_synthetic_dataset, INNER_DEPTH
    from sagan_seg.demo import split_seed, demo_config, headline, cpu_name
    from sagan_seg.data import SegFolder
    from sagan_seg.training import TrainConfig
    from sagan_seg.step import evaluate
    from sagan_seg.fitting import fit
    from sagan_seg.checkpoints import load_generator
    from sagan_seg.generator import Generator, GeneratorConfig, receptive_field
    tile, n = TILE, dict(train=args.n_train, val=args.n_val, test=args.n_test)
    gen = dict(depth=args.depth, base_width=16)
    if args.tiny: tile, n, gen, args.steps, args.epochs, args.crop = 64, dict(train=4, val=1, test=1), dict(depth=2, base_width=8), 4, 2, 64
    cmd = 'nice -n 10 .venv/bin/python benchmarks/context_sweep.py' + (' ' + ' '.join(argv if argv is not None else sys.argv[1:])).rstrip()
    torch.manual_seed(0)
    rf = receptive_field(Generator(GeneratorConfig(**gen, attn_levels=(), norm='none')), size=4 * 2**args.depth * 16)
    rf_px = rf['extent']                                     # the convolutions' reach: a square of this side
    say = lambda s: print(f'[{datetime.now():%H:%M:%S}] {s}', file=sys.stderr, flush=True)
    say(f'receptive field of the depth-{args.depth} U-Net: {rf_px} px square ({(rf_px - 1) // 2} px either way)')
    root, rows, t_start = Path(args.runs), [], time.time()
    out_csv = Path(args.out_csv) if args.out_csv else root / 'context_sweep.csv'
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    if args.append and out_csv.is_file(): rows = pd.read_csv(out_csv).to_dict('records')   # an interrupted sweep goes on
    done = {(float(r['scale']), r['variant'], int(r['seed'])) for r in rows}
    data = {}
    for seed in args.seeds:                        # seeds outermost: after each seed the whole curve exists once more
        for s in args.scales:
            if all((float(s), v, seed) in done for v in VARIANTS): continue
            if s not in data:                      # each scale's data, written once (the same for every seed and variant)
                d = root / f'data_s{s:g}'; data[s] = {}
                for split in ('train', 'val', 'test'):
                    t = time.time()
                    data[s][split] = write_synthetic_dataset(d / split, n[split], tile, split_seed(0, split), overwrite=True, context_scale=s)
                    say(f's={s:g} {split}: {n[split]} tiles in {time.time() - t:.0f} s')
            for name, attn in VARIANTS.items():
                if (float(s), name, seed) in done: continue
                run = run_dir(root, s, name, seed)
                cfg = demo_config(data[s]['train'], data[s]['val'], run, seed, dict(**gen, attn_levels=attn), None,
                                  gan=False, crop=args.crop, batch_size=args.batch_size, progress=False,
                                  epochs=args.epochs, steps_per_epoch=args.steps // args.epochs)
                say(f's={s:g} {name} seed {seed} ...')
                t0 = time.time()
                hist = fit(cfg)
                minutes = (time.time() - t0) / 60
                g = load_generator(run / 'best.pt', device='cpu')
                erf = {m: effective_rf(g, data[s]['val'], m) for m in (0.5, 0.9)}   # on a validation tile, not the test split
                h = headline(evaluate(g, SegFolder(data[s]['test'], mode='full', augment=False)))   # test split, read once
                rows.append(dict(scale=s, deciding_px=INNER_DEPTH * s, variant=name, seed=seed, steps=int(hist.step.iloc[-1]),
                                 best_epoch=int(hist.epoch.iloc[int(hist.val_f1.argmax())]),
                                 minutes=round(minutes, 2), rf_px=rf_px, rf_radius_px=(rf_px - 1) // 2, erf50_px=erf[0.5], erf90_px=erf[0.9],
                                 macro_f1=h['macro_f1'], f1_podocyte=h['f1_podocyte'], f1_non_podocyte=h['f1_non_podocyte'],
                                 f1_glomeruli=h['f1_glomeruli']))
                for r in rows: r['gamma_end'] = final_gamma(root, r)  # attention gate at the end (also for kept rows)
                pd.DataFrame(rows).to_csv(out_csv, index=False)      # after every run: a partial sweep is usable
                say(f'  -> macro {h["macro_f1"]:.4f} podocyte {h["f1_podocyte"]:.4f} non-podocyte {h["f1_non_podocyte"]:.4f} '
                    f'({minutes:.1f} min, 50% / 90% of the gradient within {erf[0.5]} / {erf[0.9]} px)')
                if args.out_md: write_md(pd.DataFrame(rows), args, cmd, cpu_name(), rf_px)
    return pd.DataFrame(rows)


def run_dir(root, s, name, seed) -> Path:
    return Path(root) / 'runs' / f's{s:g}' / name.replace(' ', '_').replace('+', 'plus') / f'seed{seed}'


def final_gamma(root, row) -> float:
    "The attention gate γ at the end of a run (from its history.csv; nan without attention or without the file)."
    f = run_dir(root, row['scale'], row['variant'], row['seed']) / 'history.csv'
    h = pd.read_csv(f) if f.is_file() else None
    return float(h['gamma_G.bottleneck'].iloc[-1]) if h is not None and 'gamma_G.bottleneck' in h else float('nan')


def summary(runs: pd.DataFrame) -> pd.DataFrame:
    "Mean ± sd over seeds of test macro, podocyte and non-podocyte F1 per scale and variant."
    runs = runs.assign(deciding_px=runs.deciding_px.round().astype(int)).sort_values(['scale', 'variant'], kind='stable',
                                                                                     key=lambda c: c if c.name == 'scale' else c.map({v: i for i, v in enumerate(VARIANTS)}))
    g = runs.groupby(['scale', 'deciding_px', 'variant'], sort=False)
    ms = lambda c: g[c].agg(lambda v: f'{v.mean():.4f} ± {v.std(ddof=1) if len(v) > 1 else 0:.4f}')
    return pd.DataFrame({'runs': g.size(), 'macro F1': ms('macro_f1'), 'podocyte F1': ms('f1_podocyte'),
                         'non-podocyte F1': ms('f1_non_podocyte'), 'glomeruli F1': ms('f1_glomeruli'),
                         'ERF 50% (px)': g.erf50_px.mean().round(1), 'ERF 90% (px)': g.erf90_px.mean().round(1),
                         'mean abs. γ at the end': g.gamma_end.agg(lambda v: v.abs().mean()).round(3) if 'gamma_end' in runs else float('nan'), 'minutes (mean)': g.minutes.mean().round(1)}).reset_index()


def write_md(runs, args, cmd, cpu, rf_px):
    from sagan_seg.metrics import table_markdown
    text = '\n'.join([
        '# When does attention pay off? Plain U-Net vs U-Net + attention as the deciding context moves away', '',
        f'Command: `{cmd}`  ',
        f'CPU: {cpu}; {args.threads} torch thread(s), run under `nice` beside other jobs on a shared machine  ',
        f'Date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; {len(runs)} runs, {runs.minutes.sum():.0f} min of training and scoring in all '
        f'(mean {runs.minutes.mean():.1f} min per run)  ',
        f'Budget: {args.steps} generator steps per run (equal steps), batch {args.batch_size}, {args.crop} px crops; '
        f'depth-{args.depth} residual U-Net, width 16, group norm, no GAN for either variant; attention (SAGAN layer) at the '
        f'bottleneck only. Receptive field of the convolutions: {rf_px} px square, {(rf_px - 1) // 2} px either way '
        '(`receptive_field` on the plain architecture). Deciding distance = INNER_DEPTH x s = 14 s px. '
        'ERF 50% / 90%: half-side of the square around the centre pixel holding 50% / 90% of |d logits(centre) / d input| of the trained model, on a validation tile '
        '(group norm\'s statistics spread a little of it over the whole tile). mean abs. γ at the end: the attention gate after the last step. '
        'Test split (per scale), best checkpoint by validation macro F1; mean ± sd over seeds.', '',
        table_markdown(summary(runs).set_index('scale')), '',
        'Per run: `benchmarks/results/context_sweep.csv`.', ''])
    p = Path(args.out_md); p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + '.partial'); tmp.write_text(text); os.replace(tmp, p)


if __name__ == '__main__':
    main()
