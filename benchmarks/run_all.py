"""Every benchmark of the project, one after the other, collected into one results file: benchmarks/RESULTS.md.

    .venv/bin/python benchmarks/run_all.py                        # all of them (about 6 h on 2 CPU cores)
    .venv/bin/python benchmarks/run_all.py --skip gan_game ablation ablation_steps   # the quick ones (a few minutes)
    .venv/bin/python benchmarks/run_all.py --ablation-minutes 1   # a shorter ablation
    .venv/bin/python benchmarks/run_all.py --reuse ablation       # rerun the others, keep the last ablation table

Each benchmark is its own script (runnable alone, see its docstring) that writes its table to
benchmarks/results/<name>.md; this script runs them in separate processes, one at a time (they measure time and
memory, so they must not overlap), then joins their tables under one header with the exact command and the
machine. A benchmark that fails leaves its error in RESULTS.md and the others still run; the exit status is then 1.
"""
import argparse, subprocess, sys, time
from datetime import datetime, timezone
from pathlib import Path

from _common import load_avg, machine_line

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BENCHES = {  # name -> (script, extra arguments, one-line description)
    'attention': ('attention.py', [], 'self-attention, naive N x N map vs efficient SDPA: time and peak memory'),
    'training': ('training.py', [], "training throughput of a full SAGAN step at the demo's tile size, FLOP rate vs matmul"),
    'inference': ('inference.py', [], 'whole-slide inference: megapixels/s vs the bare model, tiling overhead, peak memory'),
    'precision': ('precision.py', [], 'training step: fp32 vs bf16 autocast, contiguous vs channels_last; bf16 numerics'),
    'gan_game': ('gan_game.py', ['--candidates', 'baseline', 'straight-through', 'r1', 'instance-noise', 'crop128', 'crop128+r1'], 'the adversarial game per candidate fix: D accuracy, margins, adversarial share, validation F1'),
    'ablation': ('ablation.py', [], 'U-Net / + attention / SAGAN / mask-only D at equal wall time: test F1, mean ± sd over seeds'),
    'ablation_steps': ('ablation.py', ['--steps-per-run', '800', '--runs', 'runs/ablation_steps',
                                       '--out', str(HERE / 'results' / 'ablation_steps.md')],
                       'the same four variants at equal steps (800 per run)'),
    'inference_vs_monai': ('inference_vs_monai.py', [], "predict_slide beside MONAI's sliding_window_inference: time, batch size, channels_last, peak memory"),
    # the first context sweep (400 steps, two variants, 7 seeds) was recorded by context_sweep.py as it stood at commit
    # 5318ba6 (`git show 5318ba6:benchmarks/context_sweep.py`); the script now runs the controls below, so it is collected, not rerun
    'context_sweep': (None, [], 'when does attention pay off: U-Net vs U-Net + attention as the deciding context moves past the receptive field (first design, 400 steps)'),
    'context_controls': ('context_sweep.py', [], 'attention that knows where and its controls (position only, dilated U-Net) at 14 and 42 px, 1,200 steps'),
    'annotation_memory': ('annotation_memory.py', [], 'annotation readers (XML, GeoJSON): peak memory and time against file size'),
    'demo_runs': ('demo_runs.py', ['--seeds', '0', '1', '2'], "the 10-minute demo per seed (make demo's result), beside the paper"),
    # recipes.py trains one (recipe, seed) per call (every run is a row of recipes.md), two at a time; run_all collects them
    'recipes': ('recipes.py', ['--collect'], "the demo's recipe against other recipes at equal steps: validation curves, test once per run, TTA"),
    'recipes_time': ('recipes.py', ['--time', 'old', 'ema', 'd_every2', 'd_every4', 'ema+d_every2', 'posattn', 'b16', 'crop128_b2', '--rounds', '5'],
                     'seconds per training step of each recipe, measured in one process'),
    'tta_cost': ('tta_cost.py', ['--repeats', '2'], 'test-time augmentation (8 dihedral views) on a whole slide: time against plain prediction'),
    # semi_supervised.py trains one (condition, fraction, seed) per call, two at a time; run_all collects them
    'semi_supervised': ('semi_supervised.py', ['--collect'], 'semi-supervised training at 1/8 and 1/4 (and 1/32) of the labels: supervised, self-training, D-driven (image-level and pixel D, one or two views), all labels; the judge and step times'),
    # semi_shift.py trains one (condition, seed) per call, two at a time; run_all collects them
    'semi_shift': ('semi_shift.py', ['--collect'], "semi-supervised adaptation: every label from one cohort, the unlabeled pool and the test from another (larger glomeruli); self-training, the pixel D, D's adversarial term alone, target labels"),
    'demo_budget': ('demo_budget.py', ['--steps', '3042', '6084', '--seeds', '0', '1'], "the demo's configuration at 2x and 4x its 10-minute steps: what reaches the target"),
}


def demote(md):
    "Shift a benchmark's Markdown headings one level down (its '# Title' becomes '## Title')."
    return '\n'.join('#' + l if l.startswith('#') else l for l in md.splitlines())


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--only', nargs='+', choices=list(BENCHES), help='run just these')
    p.add_argument('--skip', nargs='+', choices=list(BENCHES), default=[], help='leave these out')
    p.add_argument('--reuse', nargs='+', choices=list(BENCHES), default=[],
                   help='do not rerun these: collect their last results file (its own date and command stay in it)')
    p.add_argument('--ablation-minutes', type=float, default=None, help='training minutes per ablation run (default: its own)')
    p.add_argument('--ablation-seeds', type=int, nargs='+', default=None, help='ablation seeds (default: its own, 0 1 2)')
    p.add_argument('--out', default=str(HERE / 'RESULTS.md'), help='the collected results file')
    args = p.parse_args(argv)
    names = [n for n in (args.only or BENCHES) if n not in args.skip]
    extra = {'ablation': (['--minutes-per-run', str(args.ablation_minutes)] if args.ablation_minutes else [])
                         + (['--seeds', *map(str, args.ablation_seeds)] if args.ablation_seeds else [])}
    t0, parts, failed = time.time(), [], []
    for name in names:
        script, base, what = BENCHES[name]
        if script is None: args.reuse = [*args.reuse, name]              # recorded by an earlier script: collected only
        path = HERE / (script or 'run_all.py')
        if not path.is_file():
            parts.append(f'## {name}\n\n_Not run: {path.relative_to(ROOT)} does not exist yet._\n'); continue
        md = HERE / 'results' / f'{name}.md'
        if name in args.reuse:
            if md.is_file(): parts.append(f'{demote(md.read_text().strip())}\n\n_{what}; collected from an earlier run (--reuse)._\n')
            else: failed.append(name); parts.append(f'## {name}\n\n**Missing**: --reuse given but {md.relative_to(ROOT)} does not exist.\n')
            continue
        cmd = [sys.executable, str(path), *base, *extra.get(name, [])]
        print(f'== {name}: {" ".join(cmd[1:])}', file=sys.stderr, flush=True)
        t1, l0 = time.time(), load_avg()
        r = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)     # stderr (progress) goes to the terminal
        secs = time.time() - t1
        if r.returncode == 0 and md.is_file():
            parts.append(f'{demote(md.read_text().strip())}\n\n_{what}; took {secs / 60:.1f} min; load average '
                         f'{l0} at start, {load_avg()} at end._\n')
        else:
            failed.append(name)
            parts.append(f'## {name}\n\n**Failed** (exit status {r.returncode}) after {secs:.0f} s:\n\n```\n'
                         f'{(r.stdout or "")[-2000:]}\n```\n')
    history = HERE / 'results' / 'history.md'           # one-off measurements no script reproduces: kept as written
    if history.is_file(): parts.append(f'{demote(history.read_text().strip())}\n')
    cmd = 'python benchmarks/run_all.py' + (' ' + ' '.join(argv if argv is not None else sys.argv[1:])).rstrip()
    head = ['# Benchmark results', '',
            f'Command: `{cmd}` (or `make bench`)  ',
            f'Machine: {machine_line(threads=False)}  ',
            f'Date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; all benchmarks took {(time.time() - t0) / 60:.1f} min  ',
            'Each section is one benchmark, run in its own process one after the other; its own command, machine '
            'line and matmul reference are inside it. Load average = how busy the machine was (2 means both of 2 cores).', '',
            'Contents:', ''] + [f'- {n}: {BENCHES[n][2]}' for n in names] + (
            ['- history: measurements of earlier configurations, kept as written (results/history.md)'] if history.is_file() else []) + ['']
    text = '\n'.join(head) + '\n' + '\n'.join(parts)
    Path(args.out).write_text(text)
    print(text)
    print(f'wrote {args.out}' + (f'; FAILED: {", ".join(failed)}' if failed else ''), file=sys.stderr)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
