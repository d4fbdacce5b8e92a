"""Naive vs efficient self-attention: median wall time and peak memory, forward and forward+backward.

    .venv/bin/python benchmarks/attention.py                 # B=4, C=64, maps 16^2 .. 128^2; writes benchmarks/results/attention.md
    .venv/bin/python benchmarks/attention.py --sizes 16 32   # a quick look

What is measured, for `SelfAttention2d(C, variant)` on a (B, C, S, S) input:
- time: forward (under `torch.no_grad`, as in inference) and forward+backward (input requires grad, gradients of the
  input and all parameters), median and min over `--reps` runs after one warm-up. The two paths and both passes are
  interleaved run by run, so a slow-down of the shared machine hits both alike.
- peak memory: each (size, path, pass) runs once more in a fresh process, which allocates the block and the input,
  warms up on a tiny input, hands freed memory back to the OS (`malloc_trim`), resets the kernel's high-water mark of
  its resident set (`/proc/self/clear_refs`), runs the case and reads `VmHWM`. The number is the peak resident
  memory the pass added on top of block + input: every allocation torch makes (the attention map, activations,
  gradients, kernel scratch space), measured by the OS rather than estimated. Linux only.
- naive cases whose estimated memory exceeds `--max-naive-gib` (or half the available memory) are skipped, not run.
- a matmul GFLOP/s reference and the load average at start and end show how busy the machine was.
"""
import argparse, ctypes, gc, json, os, statistics, subprocess, sys, time
from datetime import datetime, timezone
from pathlib import Path

import torch
from sagan_seg.attention import SelfAttention2d
from _common import write_results, load1 as load_1min, machine_line, matmul_gflops

PATHS = ('naive', 'efficient')
PASSES = ('fwd', 'fwd+bwd')


def make_case(size, batch, channels, variant, seed=0):
    torch.manual_seed(seed)
    m = SelfAttention2d(channels, variant)
    with torch.no_grad(): m.gamma.fill_(0.5)  # any non-zero value; the cost does not depend on it
    return m, torch.randn(batch, channels, size, size)


def run_pass(m, x, path, pass_):
    m.efficient = path == 'efficient'
    if pass_ == 'fwd':
        with torch.no_grad(): m(x)
    else:
        x = x.detach().requires_grad_()
        m(x).sum().backward()
        m.zero_grad(set_to_none=True)


def est_naive_gib(size, batch, variant, pass_):
    "Rough peak of the naive path: the (B, N, M) map is held 2x in forward, ~3x in forward+backward."
    n = size * size
    m = n // 4 if variant == 'biggan' else n
    return (2 if pass_ == 'fwd' else 3.2) * batch * n * m * 4 / 2**30


def mem_available_gib():
    with open('/proc/meminfo') as f:
        return next(int(l.split()[1]) for l in f if l.startswith('MemAvailable')) / 2**20


def _status_mib(key):
    with open('/proc/self/status') as f:
        return next(int(l.split()[1]) for l in f if l.startswith(key)) / 1024


def measure_child(size, batch, channels, variant, path, pass_):
    "In a fresh process: peak RSS (MiB) added by one pass."
    m, x = make_case(size, batch, channels, variant)
    run_pass(m, make_case(8, 1, channels, variant)[1], path, pass_)  # warm-up: load kernels, start threads
    gc.collect(); ctypes.CDLL('libc.so.6').malloc_trim(0)
    with open('/proc/self/clear_refs', 'w') as f: f.write('5')  # VmHWM := VmRSS
    base = _status_mib('VmRSS')
    run_pass(m, x, path, pass_)
    print(json.dumps({'peak_mib': _status_mib('VmHWM') - base}))


def measure_peak(args, size, path, pass_):
    cmd = [sys.executable, __file__, '--_child', str(size), path, pass_, '--batch', str(args.batch),
           '--channels', str(args.channels), '--variant', args.variant, '--threads', str(torch.get_num_threads())]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0: raise RuntimeError(f'memory measurement failed for {size} {path} {pass_}:\n{r.stderr}')
    return json.loads(r.stdout.strip().splitlines()[-1])['peak_mib']


def fmt_ms(ts): return f'{statistics.median(ts) * 1e3:,.1f} ({min(ts) * 1e3:,.1f})' if ts else 'skipped'
def fmt_mib(v): return f'{v:,.1f}' if v is not None else 'skipped'
def ratio(a, b): return f'{a / b:.1f}x' if a is not None and b else '—'
def speedup(tn, te): return f'{statistics.median(tn) / statistics.median(te):.2f}x ({min(tn) / min(te):.2f}x)' if tn else '—'


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--sizes', type=int, nargs='+', default=[16, 32, 64, 128], help='feature-map sides S (maps S x S)')
    p.add_argument('--batch', type=int, default=4)
    p.add_argument('--channels', type=int, default=64)
    p.add_argument('--variant', default='sagan', choices=['sagan', 'biggan'])
    p.add_argument('--reps', type=int, default=None, help='timed runs per case (default: 9 up to 32^2, 7 at 64^2, 3 above)')
    p.add_argument('--max-naive-gib', type=float, default=6.0, help='skip naive cases estimated to need more memory')
    p.add_argument('--out', default=str(Path(__file__).parent / 'results' / 'attention.md'), help="Markdown results file ('' for none)")
    p.add_argument('--threads', type=int, default=None, help="torch threads (default: torch's own choice)")
    p.add_argument('--_child', nargs=3, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.threads: torch.set_num_threads(args.threads)
    if args._child:
        size, path, pass_ = args._child
        return measure_child(int(size), args.batch, args.channels, args.variant, path, pass_)

    t_start = time.time()
    load0 = load_1min()
    gflops0 = matmul_gflops()
    limit = min(args.max_naive_gib, mem_available_gib() / 2)
    rows = []
    for size in args.sizes:
        reps = args.reps or (9 if size <= 32 else 7 if size <= 64 else 3)
        m, x = make_case(size, args.batch, args.channels, args.variant)
        todo = [(path, pass_) for path in PATHS for pass_ in PASSES
                if path == 'efficient' or est_naive_gib(size, args.batch, args.variant, pass_) <= limit]
        times = {case: [] for case in todo}
        for case in todo: run_pass(m, x, *case)  # warm-up
        for _ in range(reps):  # interleaved: every rep runs every case once
            for case in todo:
                t = time.perf_counter(); run_pass(m, x, *case); times[case].append(time.perf_counter() - t)
        del m, x; gc.collect()
        for pass_ in PASSES:
            tn, te = times.get(('naive', pass_), []), times[('efficient', pass_)]
            mn = measure_peak(args, size, 'naive', pass_) if tn else None
            me = measure_peak(args, size, 'efficient', pass_)
            rows.append(dict(size=size, pass_=pass_, tn=tn, te=te, mn=mn, me=me,
                             est=est_naive_gib(size, args.batch, args.variant, pass_)))
            print(f'{size}x{size} {pass_:8s} naive {fmt_ms(tn)} ms {fmt_mib(mn)} MiB | '
                  f'efficient {fmt_ms(te)} ms {fmt_mib(me)} MiB', file=sys.stderr, flush=True)
    gflops1 = matmul_gflops()
    load1 = load_1min()

    cmd = 'python benchmarks/attention.py' + (' ' + ' '.join(argv if argv is not None else sys.argv[1:])).rstrip()
    machine = machine_line()
    lines = [
        '# Self-attention benchmark: naive (N x N map) vs efficient (SDPA flash kernel)',
        '',
        f'Command: `{cmd}`  ',
        f'Machine: {machine}  ',
        f'Date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, run took {time.time() - t_start:.0f} s  ',
        f'Matmul reference (1024^2 fp32): {gflops0:.0f} GFLOP/s at start, {gflops1:.0f} GFLOP/s at end; '
        f'1-min load average {load0:.1f} at start, {load1:.1f} at end (on {os.cpu_count()} CPUs)  ',
        f'Block: `SelfAttention2d({args.channels}, {args.variant!r})`, B={args.batch}, C={args.channels}, float32, CPU',
        '',
        'Time: median (min) in ms; fwd under `torch.no_grad`, fwd+bwd with gradients for input and parameters; '
        'cases interleaved. Peak: resident memory added by one pass (MiB), each measured in a fresh process. '
        'Ratios are naive / efficient (higher = efficient is better).',
        '',
        '| map | pass | naive time | efficient time | speed-up: median (min) | naive peak MiB | efficient peak MiB | memory ratio |',
        '|---|---|---:|---:|---:|---:|---:|---:|',
    ]
    for r in rows:
        naive_peak = fmt_mib(r['mn']) if r['tn'] else f"skipped (est. {r['est']:.1f} GiB)"
        lines.append(f"| {r['size']}x{r['size']} | {r['pass_']} | {fmt_ms(r['tn'])} | {fmt_ms(r['te'])} | "
                     f"{speedup(r['tn'], r['te'])} | {naive_peak} | {fmt_mib(r['me'])} | {ratio(r['mn'], r['me'])} |")
    checks = []
    r64 = next((r for r in rows if r['size'] == 64 and r['pass_'] == 'fwd+bwd'), None)
    if r64 and r64['tn']:
        mr, sr = r64['mn'] / r64['me'], statistics.median(r64['tn']) / statistics.median(r64['te'])
        sm = min(r64['tn']) / min(r64['te'])
        checks += [f"- 64x64 fwd+bwd: {mr:.1f}x less peak memory (target >= 10x: {'met' if mr >= 10 else 'NOT met'}), "
                   f"{sr:.2f}x faster by median, {sm:.2f}x by min (target >= 2x: {'met' if sr >= 2 else 'NOT met'} by median)"]
    r128 = next((r for r in rows if r['size'] == 128 and r['pass_'] == 'fwd+bwd'), None)
    if r128:
        checks += [f"- 128x128 fwd+bwd, efficient: {r128['me']:.0f} MiB peak (target < 512 MiB: "
                   f"{'met' if r128['me'] < 512 else 'NOT met'})"]
    if checks: lines += ['', 'Targets:', ''] + checks
    text = '\n'.join(lines) + '\n'
    return write_results(text, args.out)


if __name__ == '__main__':
    main()
