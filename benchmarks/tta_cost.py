"""What test-time augmentation costs on a whole slide: `predict_slide` with and without `DihedralTTA`, interleaved.

    .venv/bin/python benchmarks/tta_cost.py            # the demo's generator on the demo's 1024 x 1536 slide, 3 repeats

The demo's generator architecture (`DEMO_MODEL`, untrained weights: the cost does not depend on them) segments the
demo's generated slide (`synth_slide`, seed 10 000) with the demo's tiling (256 px tiles, 64 px overlap, batch 4).
Plain and TTA runs alternate repeat by repeat, so a change in the machine's load hits both; medians and their
ratio are reported. TTA runs the model on the 8 dihedral views of every tile: the ratio shows how much of the
pipeline's time is the model (8x at most). Writes benchmarks/results/tta_cost.md (and .csv).
"""
import argparse, statistics, sys, tempfile, time
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import torch

from _common import write_results, load_avg, machine_line


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--repeats', type=int, default=3)
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--size', type=int, nargs=2, default=[1024, 1536], help='slide height and width in px')
    p.add_argument('--out', default=str(Path(__file__).parent / 'results' / 'tta_cost.md'))
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    from sagan_seg.demo import DEMO_MODEL
    from sagan_seg.generator import Generator, GeneratorConfig
    from sagan_seg.slides import synth_slide
    from sagan_seg.inference import predict_slide
    from sagan_seg.step import DihedralTTA
    from sagan_seg.metrics import table_markdown
    torch.manual_seed(0)
    G = Generator(GeneratorConfig(**DEMO_MODEL['gen'])).eval()
    load0, rows = load_avg(), []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        synth_slide(tmp / 'slide.tif', size=tuple(args.size), seed=10_000)
        for r in range(args.repeats):
            for name, model in (('plain', G), ('tta', DihedralTTA(G))):
                t = time.perf_counter()
                res = predict_slide(model, tmp / 'slide.tif', tmp / f'{name}{r}', tile=256, overlap=64, batch=4, progress=False)
                rows.append(dict(mode=name, repeat=r, seconds=time.perf_counter() - t, tiles=res['stats']['tiles_predicted']))
    df = pd.DataFrame(rows)
    df.to_csv(Path(args.out).with_suffix('.csv'), index=False)
    med = df.groupby('mode').seconds.median()
    summary = pd.DataFrame({'median_s': med.round(2), 'min_s': df.groupby('mode').seconds.min().round(2),
                            'tiles': df.groupby('mode').tiles.first()})
    ratio = med['tta'] / med['plain']
    cmd = 'python benchmarks/tta_cost.py ' + ' '.join(argv if argv is not None else sys.argv[1:])
    text = '\n'.join([
        '# Test-time augmentation on a whole slide: what it costs', '',
        f'Command: `{cmd.strip()}`  ',
        f'Machine: {machine_line()}; load average {load0} at the start, {load_avg()} at the end  ',
        f'Date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC  ',
        f"A {args.size[0]} x {args.size[1]} px generated slide, the demo's generator, 256 px tiles with 64 px overlap, batch 4; "
        f'plain and 8-view TTA runs interleaved, {args.repeats} repeats each.', '',
        table_markdown(summary), '',
        f'TTA / plain (medians): **{ratio:.2f}x**.', ''])
    write_results(text, args.out)


if __name__ == '__main__':
    main()
