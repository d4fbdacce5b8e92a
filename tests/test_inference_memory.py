"""Peak memory of `predict_slide` is bounded by one row of tiles: a slide 8x taller (same width) needs no more.

Each prediction runs in a fresh subprocess, which reports its peak resident set size (VmHWM in /proc/self/status):
everything the process held, torch included, measured by the kernel rather than by an allocator hook. (Not
`ru_maxrss`: Linux carries it across exec, so a child would report its parent's peak when that was higher.)"""
import os, subprocess, sys
import numpy as np
import pytest

from sagan_seg.synth import synth_tile
from sagan_seg.slides import write_pyramidal_tiff

CHILD = r'''
import re, sys, torch
from torch import nn
from sagan_seg.inference import predict_slide
torch.set_num_threads(1)
class Pointwise(nn.Module):   # no spatial context: cheap, so the pipeline (not the model) dominates
    size_multiple = 1
    def __init__(self): super().__init__(); torch.manual_seed(0); self.conv = nn.Conv2d(3, 4, 1)
    def forward(self, x): return self.conv(x)
peak_kib = lambda: int(re.search(r'VmHWM:\s*(\d+)', open('/proc/self/status').read()).group(1))
before = peak_kib()
r = predict_slide(Pointwise(), sys.argv[1], sys.argv[2], tile=512, overlap=32, batch=2, tissue=False, overlay_size=512)
print(before, peak_kib(), r['stats']['tiles'], len(r['glomeruli']))
'''


def tiled(rows, cols, tile=256, seed=1):
    "A (rows*tile, cols*tile) RGB array repeating one synthetic tile."
    t = synth_tile(tile, seed=seed)[0]
    return np.ascontiguousarray(np.broadcast_to(t[None, :, None], (rows, tile, cols, tile, 3)).reshape(rows * tile, cols * tile, 3))


# One malloc arena: glibc's per-thread arenas made one process's peak vary by up to ~40 MiB between identical runs
# (the streaming threads land in different arenas); with one, the spread is under ~10 MiB and growth, if any, shows.
QUIET_MALLOC = {**os.environ, 'MALLOC_ARENA_MAX': '1'}

def peak_rss_mib(slide, out):
    r = subprocess.run([sys.executable, '-c', CHILD, str(slide), str(out)], capture_output=True, text=True, timeout=600,
                       env=QUIET_MALLOC)
    assert r.returncode == 0, r.stderr[-3000:]
    before, peak, tiles, n_glom = map(int, r.stdout.split()[-4:])
    return before / 1024, peak / 1024, tiles                                           # MiB


def test_peak_memory_does_not_grow_with_slide_height(tmp_path):
    # Both slides at least fill OpenSlide's 32 MiB tile cache (8 M RGBA pixels), a constant we do not measure here.
    short = write_pyramidal_tiff(tmp_path / 'short.tif', tiled(32, 4), mpp=0.5)        # 1024 x 8192
    tall = write_pyramidal_tiff(tmp_path / 'tall.tif', tiled(64, 4), mpp=0.5)          # 1024 x 16384: 2x the area
    # the peak of one process varies by ~20 MiB between identical runs (allocator, thread start-up): take the lower
    # of two runs of each slide, interleaved, so that noise (which only adds) does not read as growth
    runs = [(peak_rss_mib(s, tmp_path / f'o_{name}{i}'), name) for i in range(2) for s, name in ((short, 'short'), (tall, 'tall'))]
    (b_s, p_s, n_s), (b_t, p_t, n_t) = (min((r for r, nm in runs if nm == name), key=lambda r: r[1]) for name in ('short', 'tall'))
    assert n_t > 1.9 * n_s
    # Keeping all probabilities would add 128 MiB: the peak stays far below that (seen: +0..18 MiB, allocator noise
    # and the per-glomerulus table, which grows with the number of glomeruli, not with pixels)
    assert p_t - p_s < 32, (p_s, p_t)
    assert p_t - b_t < 250, (b_t, p_t)                     # and the pipeline adds little on top of torch itself
