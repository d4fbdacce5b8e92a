"""Memory layout and precision of a training step on this machine: fp32 vs bf16 autocast, contiguous vs channels_last.

    .venv/bin/python benchmarks/precision.py                                  # the demo's model, 1 thread
    .venv/bin/python benchmarks/precision.py --checkpoint runs/x/best.pt --data report/data/val   # + numerics

Times `step.train_step` (the demo's G+D step) in the four combinations, interleaved step by step so that a change
in the machine's load hits them alike; median of `--reps` steps after a warm-up. With a trained checkpoint it also
compares the generator's bf16 forward with fp32 on whole validation tiles: the largest logit difference, the share of
pixels whose class changes, and macro F1 of both. Whether bf16 pays depends on the CPU (native bf16 instructions or not):
the machine line names them.
"""
import argparse, statistics, sys, time
from pathlib import Path
import torch

def step_times(crop:int, batch:int, reps:int)->dict:
    from sagan_seg.demo import demo_config
    from sagan_seg.step import train_step
    from sagan_seg.generator import Generator
    from sagan_seg.discriminator import Discriminator
    cfg = demo_config('unused', 'unused', '/tmp/unused', crop=crop, batch_size=batch)
    K = cfg.generator.n_classes
    x, y = torch.rand(batch, 3, crop, crop), torch.randint(0, K, (batch, crop, crop))     # (B, 3, S, S), (B, S, S)
    combos = {('fp32', 'contiguous'): None, ('fp32', 'channels_last'): None, ('bf16', 'contiguous'): torch.bfloat16,
              ('bf16', 'channels_last'): torch.bfloat16}
    state = {}
    for (prec, layout), amp in combos.items():
        torch.manual_seed(0)
        G, D = Generator(cfg.generator), Discriminator(cfg.discriminator)
        fmt = torch.channels_last if layout == 'channels_last' else torch.contiguous_format
        G, D = G.to(memory_format=fmt), D.to(memory_format=fmt)
        og = torch.optim.Adam(G.parameters(), cfg.lr_g, betas=tuple(map(float, cfg.betas)))
        od = torch.optim.Adam(D.parameters(), cfg.lr_d, betas=tuple(map(float, cfg.betas)))
        sc = torch.amp.GradScaler('cpu', enabled=False)
        state[(prec, layout)] = (G, D, og, od, sc, x.contiguous(memory_format=fmt), amp)
    ts = {k: [] for k in combos}
    for r in range(reps + 1):
        for k, (G, D, og, od, sc, xx, amp) in state.items():
            t = time.perf_counter(); train_step(G, D, og, od, sc, sc, xx, y, cfg, torch.ones(K), amp)
            if r: ts[k].append(time.perf_counter() - t)
    return {k: statistics.median(v) for k, v in ts.items()}

@torch.no_grad()
def numerics(checkpoint, data)->dict:
    from sagan_seg.checkpoints import load_generator
    from sagan_seg.step import evaluate
    from sagan_seg.data import SegFolder
    from sagan_seg.demo import headline
    g = load_generator(checkpoint); ds = SegFolder(data, mode='full', augment=False)
    diff, changed, n = 0.0, 0, 0
    for i in range(len(ds)):
        x, _ = ds[i]
        a = g(x[None]).float()
        with torch.autocast('cpu', dtype=torch.bfloat16): b = g(x[None]).float()
        diff = max(diff, float((a - b).abs().max())); changed += int((a.argmax(1) != b.argmax(1)).sum()); n += a[:, 0].numel()
    f32 = headline(evaluate(g, ds))['macro_f1']; b16 = headline(evaluate(g, ds, amp=torch.bfloat16))['macro_f1']
    return dict(max_logit_diff=diff, pixels_changed=changed / n, f1_fp32=f32, f1_bf16=b16)

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--crop', type=int, default=64); p.add_argument('--batch-size', type=int, default=8)
    p.add_argument('--reps', type=int, default=8); p.add_argument('--threads', type=int, default=1)
    p.add_argument('--checkpoint', default=None); p.add_argument('--data', default=None, help='validation folder for the numerics')
    p.add_argument('--out', default=str(Path(__file__).parent/'results'/'precision.md'))
    a = p.parse_args(argv)
    from _common import machine_line, load_avg, write_results
    from sagan_seg.metrics import table_markdown
    import pandas as pd
    torch.set_num_threads(a.threads); load0 = load_avg()
    ts = step_times(a.crop, a.batch_size, a.reps)
    base = ts[('fp32', 'contiguous')]
    tab = pd.DataFrame([dict(precision=p_, layout=l, ms_per_step=1000 * t, speedup=base / t) for (p_, l), t in ts.items()]).set_index('precision')
    cmd = 'python benchmarks/precision.py ' + ' '.join(argv if argv is not None else sys.argv[1:])
    lines = ['# Layout and precision of the training step', '', f'Command: `{cmd}`  ',
             f'Machine: {machine_line()}; load {load0} -> {load_avg()}  ',
             f'The demo\'s G+D step, batch {a.batch_size} x {a.crop}², {a.threads} thread(s), median of {a.reps} interleaved steps.', '',
             table_markdown(tab, 3), '']
    if a.checkpoint and a.data:
        nm = numerics(a.checkpoint, a.data)
        lines += ['bf16 against fp32 on a trained generator (`' + str(a.checkpoint) + '`, whole validation tiles):', '',
                  table_markdown(pd.DataFrame([nm]), 4), '']
    return write_results('\n'.join(lines), a.out)

if __name__ == '__main__':
    main()
