"""Which change keeps the discriminator from winning outright? Candidates on the same seeds, chosen on validation.

    .venv/bin/python benchmarks/gan_game.py --candidates baseline straight-through r1 instance-noise crop128 crop128+r1
                                                   # 800 steps x seeds 0 1: ~70 min on 2 CPU cores, one run at a time
    .venv/bin/python benchmarks/gan_game.py --candidates baseline r1 --seeds 0   # a subset

Every candidate trains the demo's SAGAN (`sagan_seg.demo.demo_config`, with R1 off as it was before this benchmark
chose it: `BASE`) for the same number of steps on the same
synthetic train/val data with the same seeds. Reported per candidate (mean over seeds): the game's diagnostics over
the last third of the run -- D's accuracy on real and on generated pairs, its mean scores (hinge margins), the
adversarial share of the generator's gradient at its logits -- the attention gates at the end, and the best
validation macro / podocyte / non-podocyte F1. The test split is never read here.
"""
import argparse, json, sys, time
from pathlib import Path
import pandas as pd

BASE = dict(r1_gamma=0.0)          # every candidate starts from the demo as it was before this benchmark chose R1
CANDIDATES = {
    'baseline': {},                                                   # the demo as it was: lr_d = 2 lr_g, softmax fakes
    'lr_d=lr_g': dict(lr_d=1e-3),                                     # no TTUR head start for D
    'straight-through': dict(disc=dict(fake_mode='straight_through', real_noise=0.0)),  # one-hot fakes: no softness cue
    'r1': dict(r1_gamma=1.0),                                         # R1 penalty on real pairs (lazy, every 4th D step)
    'instance-noise': dict(d_noise=0.3),                              # Gaussian noise on both class maps, decaying to 0
    'st+r1': dict(disc=dict(fake_mode='straight_through', real_noise=0.0), r1_gamma=1.0),
    'crop128': dict(crop=128, batch_size=2),                          # the same pixels per step, 4x the context per crop
    'crop128+r1': dict(crop=128, batch_size=2, r1_gamma=1.0),         # the two chosen on their own, together
    'adv0.1-warmup': dict(lambda_adv=0.1, adv_warmup=0.3),            # G feels D 10x more, ramped in
}
DIAG = ['d_acc_real', 'd_acc_fake', 'd_real', 'd_fake', 'loss_d', 'adv_share']

def summarise(hist:pd.DataFrame)->dict:
    "The game over the last third of the epochs and the gammas at the end (`ablation.game_summary`), validation F1 at the best epoch."
    from sagan_seg.ablation import game_summary
    best = hist.loc[hist.val_f1.idxmax()]
    out = {**game_summary(hist), 'loss_d': float(hist.loss_d.iloc[len(hist) - max(1, len(hist) // 3):].mean())}
    out.update(best_epoch=int(best.epoch), val_f1=float(best.val_f1), val_f1_podocyte=float(best['val_f1_podocyte']),
               val_f1_non_podocyte=float(best['val_f1_non-podocyte']), steps=int(hist.step.iloc[-1]),
               seconds=float(hist.seconds.sum()))
    return out

def knockout(run, val)->dict:
    "Validation macro / podocyte / non-podocyte F1 of the run's best.pt with every attention gate at 0 (`ablation.knockout`)."
    from sagan_seg.ablation import knockout as ko
    from sagan_seg.checkpoints import load_generator
    from sagan_seg.data import SegFolder
    k = ko(load_generator(Path(run)/'best.pt'), SegFolder(val, mode='full', augment=False))
    return {key.replace('ko_macro_f1', 'ko_val_f1').replace('ko_f1_', 'ko_val_f1_'): v for key, v in k.items()}

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--candidates', nargs='+', default=list(CANDIDATES), choices=list(CANDIDATES))
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1])
    p.add_argument('--steps', type=int, default=800, help='generator steps per run (10 epochs)')
    p.add_argument('--crop', type=int, default=None, help='training crop (default: the demo\'s)')
    p.add_argument('--batch-size', type=int, default=None)
    p.add_argument('--runs', default='runs/gan_game')
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--report-only', action='store_true', help='only collect the rows already in RUNS/rows.jsonl')
    p.add_argument('--out', default=str(Path(__file__).parent/'results'/'gan_game.md'))
    a = p.parse_args(argv)
    import torch
    from sagan_seg.demo import make_splits, demo_config
    from sagan_seg.fitting import fit
    from _common import machine_line, load_avg, write_results
    from sagan_seg.metrics import table_markdown
    torch.set_num_threads(a.threads)
    runs = Path(a.runs); splits = make_splits(runs/'data')
    rows_file = runs/'rows.jsonl'; rows_file.parent.mkdir(parents=True, exist_ok=True)
    t0, load0 = time.time(), load_avg()
    for seed in (a.seeds if not a.report_only else []):
        for name in a.candidates:
            c = {**BASE, **CANDIDATES[name]}; gen, disc = c.pop('gen', {}), c.pop('disc', {})
            if a.crop: c['crop'] = a.crop
            if a.batch_size: c['batch_size'] = a.batch_size
            cfg = demo_config(splits['train'], splits['val'], runs/name/f'seed{seed}', seed, gen, disc, progress=False,
                              epochs=10, steps_per_epoch=a.steps // 10, calibrate=False, **{'fg_bias': 0.5, **c})   # fg_bias as recorded
            t = time.time(); hist = fit(cfg)
            row = dict(candidate=name, seed=seed, wall_s=time.time() - t, **summarise(hist), **knockout(cfg.out, splits['val']))
            print(json.dumps(row), file=sys.stderr, flush=True)
            with open(rows_file, 'a') as f: f.write(json.dumps(row) + '\n')
    df = pd.DataFrame([json.loads(l) for l in open(rows_file)])
    df = df[df.candidate.isin(a.candidates) & df.seed.isin(a.seeds)]
    g = df.groupby('candidate', sort=False)
    num = [c for c in df.columns if c not in ('candidate', 'seed')]
    mean, sd = g[num].mean(), g[num].std(ddof=1)
    cols = DIAG + [c for c in df.columns if c.startswith('gamma_G')] + ['val_f1', 'val_f1_podocyte', 'val_f1_non_podocyte', 'ko_val_f1', 'ko_val_f1_podocyte', 'ko_val_f1_non_podocyte']
    tab = pd.DataFrame({c: [f'{m:.3f} ± {s:.3f}' for m, s in zip(mean[c], sd[c].fillna(0))] for c in cols if c in mean}, index=mean.index)
    tab.insert(0, 's/step', (mean.wall_s / mean.steps).round(3))
    args = [x for x in (argv if argv is not None else sys.argv[1:]) if x != '--report-only']
    cmd = 'python benchmarks/gan_game.py ' + ' '.join(args)
    hist = []                                    # every run's per-epoch history, for the figures of 16_fitting / 19_paper
    for r in df.itertuples():
        h = runs/r.candidate/f'seed{r.seed}'/'history.csv'
        if h.is_file():
            keep = ['epoch', 'step'] + [c for c in DIAG + ['val_f1'] if c in pd.read_csv(h, nrows=1)]
            hist.append(pd.read_csv(h)[keep].assign(candidate=r.candidate, seed=r.seed))
    if hist and a.out:
        pd.concat(hist).round(4).to_csv(Path(a.out).with_name('gan_game_history.csv'), index=False)
    text = '\n'.join(['# The adversarial game: candidates that keep D from winning outright', '',
                      f'Command: `{cmd}`  ', f'Machine: {machine_line()}; {a.threads} thread(s) per run; load {load0} -> {load_avg()}  ',
                      f'{a.steps} steps per run, seeds {a.seeds}, mean ± sd over seeds; diagnostics over the last third of each run; '
                      'validation split only (best epoch by validation macro F1).', '',
                      table_markdown(tab), '', 'Per run:', '', table_markdown(df.set_index('candidate'), 3), ''])
    return write_results(text, a.out) if a.out else print(text)

if __name__ == '__main__':
    main()
