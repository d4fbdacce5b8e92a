"""Annotation readers: peak memory against file size, for ImageScope XML and QuPath GeoJSON.

    .venv/bin/python benchmarks/annotation_memory.py             # 1, 4, 16, 64 MB of each format, ~2 min
    .venv/bin/python benchmarks/annotation_memory.py --sizes 1 4  # smaller: a smoke run

What is measured: files of glomerulus-like outlines (64-vertex polygons, one in eight with a hole; a NegativeROA
region in XML) are written at each size; each file is read by `read_annotations` in a fresh Python process, which
reports its peak resident set (`resource.getrusage(...).ru_maxrss`) and the time the read took. The baseline row
(size 0) is the same process reading nothing: the interpreter, numpy and shapely. Peak/size counts only what the
read added above that baseline. MB = 10^6 bytes.
"""
import argparse, csv, json, subprocess, sys, tempfile, time
from pathlib import Path
import numpy as np
from _common import write_results, cpu_name, load_avg

CHILD = r'''
import resource, sys, time
from sagan_seg.annotations import read_annotations
t = time.perf_counter(); n = len(read_annotations(sys.argv[1])) if sys.argv[1] != '-' else 0
print(n, time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
'''

def outlines(n, seed=0):
    "n rings of 64 vertices (level-0 px, 3 decimals as exporters write them), and for every eighth a hole ring."
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 2 * np.pi, 64, endpoint=False)
    for i in range(n):
        cx, cy, r = *rng.uniform(1000, 99000, 2), rng.uniform(80, 200)
        rr = r * (1 + 0.05 * rng.random(64))                                   # a slightly uneven outline
        ring = np.round(np.column_stack([cx + rr * np.cos(t), cy + rr * np.sin(t)]), 3)
        yield ring, (np.round(np.column_stack([cx + r / 4 * np.cos(-t), cy + r / 4 * np.sin(-t)]), 3) if i % 8 == 0 else None)

def write_geojson(path, mb):
    "A QuPath-style FeatureCollection of about `mb` MB."
    with open(path, 'w') as f:
        f.write('{"type": "FeatureCollection", "features": [')
        for i, (ring, hole) in enumerate(outlines(10**9)):
            rings = [ring.tolist() + [ring[0].tolist()]] + ([hole.tolist() + [hole[0].tolist()]] if hole is not None else [])
            f.write((', ' if i else '') + json.dumps({'type': 'Feature', 'id': f'f{i}', 'geometry': {'type': 'Polygon', 'coordinates': rings},
                    'properties': {'objectType': 'annotation', 'classification': {'name': 'Glomerulus', 'color': [0, 255, 0]}}}))
            if f.tell() > mb * 1e6: break
        f.write(']}\n')

def write_xml(path, mb):
    "An ImageScope XML of about `mb` MB: one layer, holes as NegativeROA regions."
    with open(path, 'w') as f:
        f.write('<?xml version="1.0" encoding="UTF-8"?>\n<Annotations MicronsPerPixel="0.5">\n<Annotation Id="1" Name="Glomerulus">'
                '<Attributes><Attribute Name="Glomerulus" Id="0" Value=""/></Attributes>\n<Regions>\n')
        rid = 0
        for ring, hole in outlines(10**9):
            for neg, r in ((0, ring), (1, hole)):
                if r is None: continue
                rid += 1
                f.write(f'<Region Id="{rid}" Type="0" NegativeROA="{neg}"><Attributes/><Vertices>\n'
                        + ''.join(f'<Vertex X="{x:g}" Y="{y:g}" Z="0"/>\n' for x, y in r) + '</Vertices></Region>\n')
            if f.tell() > mb * 1e6: break
        f.write('</Regions></Annotation>\n</Annotations>\n')

def measure(path):
    r = subprocess.run([sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True)
    if r.returncode: raise SystemExit(f"{path}: {r.stderr.strip().splitlines()[-1]}")
    n, secs, peak = r.stdout.split()
    return int(n), float(secs), int(peak) / 1e6

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--sizes', type=float, nargs='+', default=[1, 4, 16, 64], help='file sizes in MB')
    ap.add_argument('--out', default='benchmarks/results/annotation_memory.md', help="results file ('' to print only); a .csv beside it")
    a = ap.parse_args()
    base = measure('-')[2]
    rows = []
    with tempfile.TemporaryDirectory() as d:
        for fmt, write in (('xml', write_xml), ('geojson', write_geojson)):
            for mb in a.sizes:
                p = Path(d)/f'a{mb:g}.{fmt}'; write(p, mb)
                size = p.stat().st_size / 1e6
                n, secs, peak = measure(p)
                rows.append(dict(format=fmt, file_mb=round(size, 1), regions=n, peak_mb=round(peak, 1),
                                 added_mb=round(peak - base, 1), added_per_file_mb=round((peak - base) / size, 2), seconds=round(secs, 2)))
                print(rows[-1], flush=True)
                p.unlink()
    cmd = 'python benchmarks/annotation_memory.py' + (f" --sizes {' '.join(f'{s:g}' for s in a.sizes)}" if a.sizes != [1, 4, 16, 64] else '')
    hdr = '| format | file MB | regions | peak MB | added MB | added / file size | seconds |\n|---|---:|---:|---:|---:|---:|---:|\n'
    table = hdr + ''.join(f"| {r['format']} | {r['file_mb']} | {r['regions']} | {r['peak_mb']} | {r['added_mb']} | {r['added_per_file_mb']} | {r['seconds']} |\n" for r in rows)
    text = (f'# Annotation readers: peak memory against file size\n\n{__doc__.split(chr(10), 1)[1].strip()}\n\n'
            f'Command: `{cmd}`  \nMachine: {cpu_name()}; load average {load_avg()}  \n'
            f'Baseline (a process that imports the readers and reads nothing): {base:.1f} MB peak.\n\n{table}')
    write_results(text, a.out)
    if a.out:
        with open(Path(a.out).with_suffix('.csv'), 'w', newline='') as f:
            w = csv.DictWriter(f, list(rows[0])); w.writeheader(); w.writerows(rows)

if __name__ == '__main__': main()
