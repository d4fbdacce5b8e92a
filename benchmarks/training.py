"""Training throughput: tiles/s of one full SAGAN step (D update + G update) at the demo's tile size, and its FLOP rate.

    .venv/bin/python benchmarks/training.py              # the demo's configuration; writes benchmarks/results/training.md
    .venv/bin/python benchmarks/training.py --reps 3     # a quicker look
    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/training.py   # OpenMP threads sleep instead of spinning

What is measured, on random tiles of the demo's crop size and batch (the step's cost does not depend on the pixels):
- time of `step.train_step` — one discriminator update on (real, generated) pairs, then one generator update on
  pixel loss + adversarial loss — for the demo's full model (G+D), and for the same generator trained alone
  (supervised, no discriminator) as a reference. Median and min over `--reps` steps after two warm-up steps; the
  variants are interleaved step by step, so a slow-down of the shared machine hits both alike. Each runs with one
  thread and with all of them (on a busy machine the extra threads can make a step many times slower).
- FLOPs per step counted by `torch.utils.flop_counter.FlopCounterMode` (convolutions, matmuls and attention, forward
  and backward; element-wise work — norms, activations, Adam — is not counted, so the rate is a lower bound).
- the same with all threads in a second process started with OMP_WAIT_POLICY=PASSIVE (idle OpenMP threads sleep
  instead of spinning), unless that variable is already set or --no-passive is given.
- the machine's fp32 matmul rate (2048 x 2048, best of 5), measured before, between and after the steps. The step's
  FLOP rate is reported as a fraction of the best matmul rate of the same run.
"""
import argparse, json, os, statistics, subprocess, sys, time
from datetime import datetime, timezone
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode
from _common import write_results, load_avg, machine_line, matmul_gflops


def make_variant(cfg, gan):
    "(step function, GFLOP per step) for the demo's networks, with or without the discriminator."
    from sagan_seg.generator import Generator
    from sagan_seg.discriminator import Discriminator
    from sagan_seg.step import train_step
    torch.manual_seed(0)
    cfg = type(cfg).from_dict({**cfg.to_dict(), 'gan': gan})
    G = Generator(cfg.generator)
    D = Discriminator(cfg.discriminator) if cfg.use_gan else None
    betas = tuple(float(b) for b in cfg.betas)
    opt_g = torch.optim.Adam(G.parameters(), lr=cfg.lr_g, betas=betas)
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr_d, betas=betas) if D is not None else None
    sg, sd = torch.amp.GradScaler('cpu', enabled=False), torch.amp.GradScaler('cpu', enabled=False)
    K, B, S = cfg.generator.n_classes, cfg.batch_size, cfg.crop
    x, y = torch.rand(B, 3, S, S), torch.randint(0, K, (B, S, S))          # (B, 3, S, S), (B, S, S)
    w = torch.ones(K)
    step = lambda: train_step(G, D, opt_g, opt_d, sg, sd, x, y, cfg, w, None)
    step()                                                                 # warm-up (allocations, kernels)
    with FlopCounterMode(display=False) as fc: step()                      # second warm-up, counted
    return step, fc.get_total_flops() / 1e9


def fmt_s(ts): return f'{statistics.median(ts):.2f} ({min(ts):.2f})'


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--reps', type=int, default=5, help='timed steps per variant and thread count')
    p.add_argument('--crop', type=int, default=None, help="tile side (default: the demo's)")
    p.add_argument('--batch', type=int, default=None, help="tiles per step (default: the demo's)")
    p.add_argument('--threads', type=int, nargs='+', default=None, help="torch thread counts to compare (default: 1 and all)")
    p.add_argument('--out', default=str(Path(__file__).parent / 'results' / 'training.md'), help="Markdown results file ('' for none)")
    p.add_argument('--no-passive', action='store_true', help='skip the extra run with OMP_WAIT_POLICY=PASSIVE')
    p.add_argument('--_json', action='store_true', help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    from sagan_seg.demo import demo_config
    most = torch.get_num_threads()
    threads = args.threads or sorted({1, most})
    over = {k: v for k, v in (('crop', args.crop), ('batch_size', args.batch)) if v}
    cfg = demo_config('unused', 'unused', 'unused', **over)
    t_start = time.time()
    names = {True: 'SAGAN step (D update + G update)', False: 'generator alone (supervised step)'}
    variants, ref = {}, {t: [] for t in threads}
    for t in threads:
        torch.set_num_threads(t); ref[t].append(matmul_gflops(2048))
        for gan in (True, False): variants[(t, gan)] = make_variant(cfg, gan)
    times = {k: [] for k in variants}
    for _ in range(args.reps):                                             # interleaved: variants and thread counts
        for (t, gan), (step, _) in variants.items():
            torch.set_num_threads(t)
            t0 = time.perf_counter(); step(); times[(t, gan)].append(time.perf_counter() - t0)
    for t in threads: torch.set_num_threads(t); ref[t].append(matmul_gflops(2048))
    torch.set_num_threads(most)
    rows = [dict(name=names[gan], threads=str(t), times=times[(t, gan)], gflop=gf, peak=max(ref[t]))
            for (t, gan), (_, gf) in variants.items()]
    if args._json: print(json.dumps(dict(rows=rows))); return
    passive = None
    if most > 1 and not args.no_passive and 'OMP_WAIT_POLICY' not in os.environ:   # the same, OpenMP threads sleeping when idle
        child = [sys.executable, __file__, '--_json', '--threads', str(most), '--reps', str(args.reps), '--out', '']
        child += [a for k, v in (('--crop', args.crop), ('--batch', args.batch)) if v for a in (k, str(v))]
        r = subprocess.run(child, capture_output=True, text=True, env={**os.environ, 'OMP_WAIT_POLICY': 'PASSIVE'})
        if r.returncode == 0:
            passive = json.loads(r.stdout.strip().splitlines()[-1])['rows']
            for row in passive: row['threads'] += ' (OMP_WAIT_POLICY=PASSIVE)'
            rows += passive

    g, d = cfg.generator, cfg.discriminator
    cmd = 'python benchmarks/training.py' + (' ' + ' '.join(argv if argv is not None else sys.argv[1:])).rstrip()
    lines = [
        '# Training throughput: one SAGAN step at the demo\'s tile size',
        '',
        f'Command: `{cmd}`  ',
        f'Machine: {machine_line()}; load average {load_avg()}  ',
        f'Date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, run took {time.time() - t_start:.0f} s  ',
        'Matmul reference (2048^2 fp32, best of 5, before / after the steps): '
        + '; '.join(f'{t} thread{"s" if t > 1 else ""}: {ref[t][0]:.0f} / {ref[t][1]:.0f} GFLOP/s' for t in threads) + '  ',
        f'Step: batch {cfg.batch_size} tiles of {cfg.crop}x{cfg.crop} px, float32, CPU; generator depth {g.depth}, width {g.base_width}, '
        f'{g.norm} norm, attention {list(g.attn_levels)}; discriminator depth {d.depth}, width {d.base_width}, attention after block {d.attn_level}',
        '',
        'Time: median (min) seconds per step over interleaved steps. FLOPs: counted by `torch.utils.flop_counter` '
        '(convolutions, matmuls, attention; element-wise work not counted). Fraction: the step\'s FLOP rate (by median '
        'time) over the best matmul rate measured with the same thread count.',
        '',
        '| step | threads | s/step | tiles/s | megapixels/s | GFLOP/step | GFLOP/s | fraction of matmul |',
        '|---|---:|---:|---:|---:|---:|---:|---:|',
    ]
    for r in rows:
        med = statistics.median(r['times'])
        lines.append(f"| {r['name']} | {r['threads']} | {fmt_s(r['times'])} | {cfg.batch_size / med:.2f} | "
                     f"{cfg.batch_size * cfg.crop**2 / med / 1e6:.3f} | {r['gflop']:.1f} | {r['gflop'] / med:.1f} | {r['gflop'] / med / r['peak']:.1%} |")
    full, alone = (statistics.median(times[(threads[0], gan)]) for gan in (True, False))
    gf_full, gf_alone = variants[(threads[0], True)][1], variants[(threads[0], False)][1]
    lines += ['', f'With {threads[0]} thread(s) the discriminator adds {full / alone - 1:.0%} to the time of a generator-only '
              f'step ({gf_full / gf_alone - 1:.0%} to its FLOPs).']
    if len(threads) > 1:
        a, b = (statistics.median(times[(t, True)]) for t in (threads[0], threads[-1]))
        lines.append(f'{threads[-1]} threads vs 1: {a / b:.2f}x the speed of one thread on the SAGAN step '
                     '(below 1 means the busy machine made the extra thread a loss: threads wait for each other at every '
                     'parallel region when the OS deschedules one).')
    if passive:
        a, b = statistics.median(times[(threads[0], True)]), statistics.median(passive[0]['times'])
        lines.append(f'With OMP_WAIT_POLICY=PASSIVE (set before torch starts; run in a separate process right after, so not '
                     f'interleaved with the rows above) {most} threads run the SAGAN step at {a / b:.2f}x the speed of one thread.')
    text = '\n'.join(lines) + '\n'
    return write_results(text, args.out)


if __name__ == '__main__':
    main()
