"""The ablation the paper did not run: U-Net, U-Net + attention, SAGAN, SAGAN with a mask-only discriminator.

    .venv/bin/python benchmarks/ablation.py                          # run_ablation's budget per run, seeds 0 1 2: ~40 min on 2 CPU cores
    .venv/bin/python benchmarks/ablation.py --steps-per-run 800 --out benchmarks/results/ablation_steps.md   # equal steps
    .venv/bin/python benchmarks/ablation.py --minutes-per-run 1 --seeds 0 1

Every variant is trained with `sagan_seg.ablation.run_ablation`: the same synthetic data (train / val / test from
different seeds), the same wall-clock training budget per run and the same training seeds; the best checkpoint
by validation macro F1 is scored on the test split. Runs go seed by seed, all variants per seed, so a change in
the machine's load spreads over the variants. Writes benchmarks/results/ablation.md (mean ± sd table and the
per-run rows); the runs themselves go to runs/ablation/.
"""
import argparse, inspect, sys, time
from datetime import datetime, timezone
from pathlib import Path

from _common import write_results, load_avg

def main(argv=None):
    from sagan_seg.ablation import run_ablation
    default = inspect.signature(run_ablation).parameters['minutes_per_run'].default     # one default, in run_ablation
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--minutes-per-run', type=float, default=default, help=f'wall-clock training budget of each run (default {default:g})')
    p.add_argument('--steps-per-run', type=int, default=None, help='equal steps instead of equal time: this many steps per run')
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2], help='training seeds')
    p.add_argument('--runs', default='runs/ablation', help='folder for data and runs')
    p.add_argument('--threads', type=int, default=None, help="torch threads (default: 1 or all, whichever steps faster)")
    p.add_argument('--tiny', action='store_true', help='seconds-long smoke version')
    p.add_argument('--out', default=str(Path(__file__).parent / 'results' / 'ablation.md'), help="Markdown results file ('' for none)")
    args = p.parse_args(argv)
    from sagan_seg.ablation import ablation_table
    from _common import machine_line
    from sagan_seg.metrics import table_markdown
    t0, load0 = time.time(), load_avg()
    runs = run_ablation(args.runs, args.minutes_per_run, tuple(args.seeds), threads=args.threads, tiny=args.tiny,
                        steps_per_run=args.steps_per_run,
                        log=lambda s: print(s, file=sys.stderr, flush=True))
    threads = ', '.join(str(t) for t in sorted(runs.threads.unique()))
    cmd = 'python benchmarks/ablation.py' + (' ' + ' '.join(argv if argv is not None else sys.argv[1:])).rstrip()
    cols = [c for c in ['variant', 'seed', 'steps', 'epochs', 'minutes', 's_per_step', 'threads', 'macro_f1', 'f1_podocyte', 'f1_non_podocyte',
                        'f1_glomeruli', 'ko_macro_f1', 'ko_f1_non_podocyte', 'gamma_G.bottleneck', 'gamma_G.dec2', 'd_acc_real', 'd_acc_fake',
                        'adv_share'] if c in runs]
    text = '\n'.join([
        '# Ablation: what attention and the GAN add (synthetic kidney data)', '',
        f'Command: `{cmd}`  ',
        f'Machine: {machine_line()}; training with {threads} thread(s); load average (1, 5, 15 min) {load0} at the start, {load_avg()} at the end  ',
        f'Date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, run took {(time.time() - t0) / 60:.0f} min  ',
        (f'Budget: {args.steps_per_run} generator steps per run (equal steps), seeds {args.seeds}; ' if args.steps_per_run else
         f'Budget: {args.minutes_per_run:g} min of training per run (validation included, equal time), seeds {args.seeds}; ') +
        'test split, best checkpoint by validation macro F1, its logit bias calibrated on validation (`fit`\'s default, as in '
        'the demo)' + ('' if args.steps_per_run else '; the plan has 1.5x headroom and the clock ends each run') +
        '. Mean ± sd over seeds. "gates = 0": the same checkpoint with every generator attention gate set to 0. '
        'D acc. real / fake: share of real / generated pairs D scores right (> 0 / < 0), last third of the run; '
        'adv. share: the adversarial part of the gradient at the generator\'s logits, |lambda g_adv| / (|lambda g_adv| + |g_pix|).', '',
        table_markdown(ablation_table(runs)), '',
        'Per run:', '',
        table_markdown(runs[cols].set_index('variant')), '']) 
    return write_results(text, args.out)


if __name__ == '__main__':
    main()
