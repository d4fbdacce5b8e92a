"""`predict_slide` beside MONAI's `sliding_window_inference`: the same model, the same region, time and peak memory.

    .venv/bin/python benchmarks/inference_vs_monai.py            # ~10 min on 2 busy CPU cores
    .venv/bin/python benchmarks/inference_vs_monai.py --quick    # one repeat, small slides: a smoke run

MONAI is an optional benchmark dependency (`pip install monai`); without it the MONAI rows are left out and the rest runs.

What is measured (one torch thread, the demo's generator, untrained: speed does not depend on the weights):
- speed, on a 1408 x 1408 synthetic slide, every tile predicted (`tissue=False`), 256 px tiles with 64 px overlap,
  Gaussian blending, repeats interleaved (median and min):
  - `predict_slide` end to end (reading, blending, argmax, the label BigTIFF, areas, glomerulus counting, overlay),
    at batch 1, 2 and 4;
  - `predict_slide` with the model handed contiguous (NCHW) tensors instead of channels_last — what the explicit
    channels_last in `inference._forward` is worth;
  - MONAI: the whole region read into one (1, 3, H, W) tensor, `sliding_window_inference(roi 256, overlap 0.25,
    mode='gaussian', predictor = softmax of the model)`, argmax — the labels only, no files written;
  - the labels of the two methods compared pixel by pixel (the Gaussian windows differ slightly: agreement, not identity).
- peak memory: a fresh process per method and slide size (VmHWM, /proc/self/status), minus what the process held
  before predicting.
"""
import argparse, json, os, re, statistics, subprocess, sys, tempfile, time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import tifffile
import torch
from torch import nn

from _common import write_results, load_avg, machine_line

try:
    import monai                                                   # noqa: F401
    from monai.inferers import sliding_window_inference
except ImportError:
    sliding_window_inference = None


def demo_model(seed=0):
    from sagan_seg.demo import DEMO_MODEL
    from sagan_seg.generator import Generator, GeneratorConfig
    torch.manual_seed(seed)
    return Generator(GeneratorConfig(**DEMO_MODEL['gen'])).eval()


class Contiguous(nn.Module):
    "The model, handed NCHW-contiguous input (a copy when the input is channels_last)."
    def __init__(self, m): super().__init__(); self.m, self.cfg, self.size_multiple = m, m.cfg, m.size_multiple
    def forward(self, x): return self.m(x.contiguous())


def monai_labels(m, slide_path, tile=256, overlap=64, batch=4):
    "Labels (H, W) uint8 of the whole level-0 region, with MONAI's sliding window."
    from sagan_seg.slides import open_slide
    with open_slide(slide_path) as s:
        W, H = s.level_dimensions[0]
        x = torch.from_numpy(s.read_region(0, 0, 0, W, H)).permute(2, 0, 1)[None].float() / 255   # (1, 3, H, W)
    with torch.inference_mode():
        p = sliding_window_inference(x, (tile, tile), batch, lambda t: m(t).softmax(1), overlap=overlap / tile, mode='gaussian')
    return p[0].argmax(0).to(torch.uint8).numpy()


def ours(m, slide_path, out, tile=256, overlap=64, batch=4):
    from sagan_seg.inference import predict_slide
    return predict_slide(m, slide_path, out, tile=tile, overlap=overlap, batch=batch, tissue=False)


CHILD = r'''
import json, re, sys, time, torch
sys.path.insert(0, sys.argv[4])
import inference_vs_monai as b
hwm = lambda: int(re.search(r'VmHWM:\s*(\d+)', open('/proc/self/status').read()).group(1)) / 1024
torch.set_num_threads(1)
m = b.demo_model()
before = hwm(); t = time.perf_counter()
if sys.argv[1] == 'monai': b.monai_labels(m, sys.argv[2])
else: b.ours(m, sys.argv[2], sys.argv[3])
print(json.dumps(dict(before=before, peak=hwm(), seconds=time.perf_counter() - t)))
'''


def memory(method, slide, out):
    r = subprocess.run([sys.executable, '-c', CHILD, method, str(slide), str(out), str(Path(__file__).parent)],
                       capture_output=True, text=True)
    if r.returncode: raise RuntimeError(r.stderr[-3000:])
    return json.loads(r.stdout.strip().splitlines()[-1])


def table(rows, cols):
    out = ['| ' + ' | '.join(cols) + ' |', '|' + '|'.join('---' if i == 0 else '---:' for i in range(len(cols))) + '|']
    return '\n'.join(out + ['| ' + ' | '.join(str(r[c]) for c in cols) + ' |' for r in rows])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--quick', action='store_true', help='one repeat, small slides (a smoke run)')
    p.add_argument('--reps', type=int, default=3)
    p.add_argument('--out', default=str(Path(__file__).parent / 'results' / 'inference_vs_monai.md'))
    args = p.parse_args(argv)
    from sagan_seg.slides import synth_slide
    torch.set_num_threads(1)
    reps, side, mem_sides = (1, 512, [512, 1024]) if args.quick else (args.reps, 1408, [1408, 2816])
    t0, load0, log = time.time(), load_avg(), (lambda s: print(s, file=sys.stderr, flush=True))
    m = demo_model()
    with tempfile.TemporaryDirectory(prefix='sagan_seg_bench_monai_') as tmp:
        work = Path(tmp)
        slide = work / 'speed.tif'
        synth_slide(slide, size=(side, side), seed=7)
        cases = {f'predict_slide, batch {b}': (lambda b=b: ours(m, slide, work / 'o', batch=b)) for b in (1, 2, 4)}
        cases['predict_slide, batch 4, model fed NCHW-contiguous'] = lambda: ours(Contiguous(m), slide, work / 'o', batch=4)
        if sliding_window_inference is not None:
            for b in (1, 4): cases[f'MONAI sliding_window_inference, sw_batch_size {b}'] = lambda b=b: monai_labels(m, slide, batch=b)
        for f in cases.values(): f()                                    # warm-up
        times = {k: [] for k in cases}
        for r in range(reps):                                           # interleaved: load changes hit every case
            for k, f in cases.items():
                log(f'rep {r}: {k}')
                t = time.perf_counter(); f(); times[k].append(time.perf_counter() - t)
        ref = statistics.median(times['predict_slide, batch 4'])
        px = side * side
        speed = [{'method': k, 'MP/s of slide, median (min)': f'{px / 1e6 / statistics.median(v):.3f} ({px / 1e6 / min(v):.3f})',
                  'time vs predict_slide batch 4': f'{statistics.median(v) / ref:.2f}x'} for k, v in times.items()]
        agree = ''
        if sliding_window_inference is not None:
            lab_ours = tifffile.imread(work / 'o' / 'labels.tif')
            lab_monai = monai_labels(m, slide)
            agree = (f'Labels of `predict_slide` and MONAI agree on {100 * (lab_ours == lab_monai).mean():.2f}% of the '
                     f'{px:,} pixels (untrained model; the Gaussian windows differ slightly).')
        mem = []
        for s in mem_sides:
            sp = work / f'mem_{s}.tif'
            synth_slide(sp, size=(s, s), seed=8)
            for method in (['ours'] + (['monai'] if sliding_window_inference is not None else [])):
                log(f'memory: {method} {s}')
                d = memory(method, sp, work / f'm_{method}_{s}')
                mem.append({'method': 'predict_slide' if method == 'ours' else 'MONAI sliding_window_inference',
                            'slide (px)': f'{s:,} x {s:,}', 'peak RSS MiB': f"{d['peak']:,.0f}",
                            'added by predicting, MiB': f"{d['peak'] - d['before']:,.0f}",
                            'added bytes per slide px': f"{(d['peak'] - d['before']) * 2**20 / (s * s):.1f}",
                            'seconds': f"{d['seconds']:.1f}", '_added': d['peak'] - d['before'], '_px': s * s})
    growth = []
    for name in dict.fromkeys(r['method'] for r in mem):
        a, b = [r for r in mem if r['method'] == name][:2]
        growth.append(f"- {name}: {(b['_added'] - a['_added']) * 2**20 / (b['_px'] - a['_px']):.0f} bytes per extra slide pixel "
                      f"({a['slide (px)']} -> {b['slide (px)']})")
    for r in mem: r.pop('_added'); r.pop('_px')
    cmd = 'python benchmarks/inference_vs_monai.py' + (' ' + ' '.join(argv if argv is not None else sys.argv[1:])).rstrip()
    text = '\n'.join([
        '# `predict_slide` beside MONAI `sliding_window_inference`', '',
        f'Command: `{cmd}`  ',
        f'Machine: {machine_line()}; load average (1, 5, 15 min) {load0} at the start, {load_avg()} at the end  ',
        f'Date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, run took {(time.time() - t0) / 60:.1f} min  ',
        f'MONAI: {getattr(sys.modules.get("monai"), "__version__", "not installed")}; model: the demo generator (untrained), '
        f'one thread; tile 256, overlap 64 (MONAI overlap 0.25), Gaussian blending.', '',
        f'## Speed ({side} x {side} px slide, every tile predicted, {reps} interleaved repeat(s))', '',
        table(speed, list(speed[0])), '', agree, '',
        '`predict_slide` does more work than the MONAI rows (it writes the label BigTIFF, overlay and tables); MONAI needs the '
        'whole region in memory at once. The NCHW-contiguous row is the same pipeline with the model handed a contiguous '
        'copy: the difference is what the channels_last hand-over in `inference._forward` buys on this CPU.', '',
        '## Peak memory (fresh process per method and size)', '',
        table(mem, list(mem[0])), '', 'Growth of the added memory with the slide\'s area:', '', *growth, '',
        'MONAI holds the input, the per-class probability sum and the weight map for the whole region (float32), so its '
        'memory grows with the slide\'s area; `predict_slide` streams bands of rows, so it grows with the width only.', ''])
    return write_results(text, args.out)


if __name__ == '__main__':
    main()
