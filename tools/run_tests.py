"""Run every test of the project and end with one line `N passed, N failed`.

    python tools/run_tests.py [--only nb|pytest|guards] [--flags slow]

1. guards: `nbdev-export` and `nbdev-clean` change nothing (notebooks and library in sync, notebooks clean),
   README.md is current with nbs/index.ipynb;
2. every notebook's tests (`nbdev-test`, one notebook per process, 2 at a time), each notebook counting as one test;
3. pytest's `tests/`, each test counting as one (skipped tests are listed, not counted).
Exit status is non-zero when anything failed.
"""
import argparse, hashlib, os, subprocess, sys, time, xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
results = []  # (name, ok, seconds, detail)
skipped = []  # names of skipped tests, with the reason

def record(name, ok, t0, detail=''):
    results.append((name, ok, time.time()-t0, detail))
    print(f"{'PASS' if ok else 'FAIL'} {name} ({time.time()-t0:.1f}s){'' if ok else chr(10)+detail}", flush=True)

def snapshot(*dirs):
    return {p: hashlib.sha1(p.read_bytes()).hexdigest() for d in dirs for p in sorted((ROOT/d).rglob('*'))
            if p.is_file() and '__pycache__' not in p.parts and '.ipynb_checkpoints' not in p.parts}

def changed(before, after):
    return sorted(str(p.relative_to(ROOT)) for p in set(before) | set(after) if before.get(p) != after.get(p))

def guard(name, cmd, dirs, hint):
    t0 = time.time(); before = snapshot(*dirs)
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    diff = changed(before, snapshot(*dirs))
    ok = r.returncode == 0 and not diff
    record(name, ok, t0, (r.stdout + r.stderr)[-2000:] + (f"{hint}: {', '.join(diff)}" if diff else ''))

def guards():
    guard('guard: nbdev-export leaves no diff', [str(BIN/'nbdev-export')], ['sagan_seg'],
          'notebooks and library out of sync (run nbdev-export and commit)')
    guard('guard: nbdev-clean leaves no diff', [str(BIN/'nbdev-clean')], ['nbs'],
          'notebooks not clean (run nbdev-clean and commit)')
    t0 = time.time()
    r = subprocess.run([sys.executable, 'tools/make_readme.py', '--check'], cwd=ROOT, capture_output=True, text=True)
    record('guard: README.md is current with nbs/index.ipynb', r.returncode == 0, t0, r.stdout + r.stderr)

def one_notebook(nb, flags):
    t0 = time.time()
    cmd = [str(BIN/'nbdev-test'), str(nb), '--do-print'] + (['--flags', flags] if flags else [])
    # two notebooks run at once on a 2-core machine: one thread each, or torch oversubscribes the cores
    env = {**os.environ, 'MPLBACKEND': 'Agg', 'OMP_NUM_THREADS': os.environ.get('OMP_NUM_THREADS', '1')}
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env)
    return nb, r.returncode == 0, t0, (r.stdout + r.stderr)[-4000:]

def notebooks(flags):
    nbs = sorted((ROOT/'nbs').glob('*.ipynb'))
    with ThreadPoolExecutor(2) as ex:
        for nb, ok, t0, out in ex.map(lambda nb: one_notebook(nb, flags), nbs):
            record(f'notebook: {nb.relative_to(ROOT)}', ok, t0, out)

def pytests():
    t0 = time.time(); xml = ROOT/'.pytest-results.xml'
    # two workers (pytest-xdist), one file each at a time: most tests run one thread, so on 2 cores this halves the wall time
    r = subprocess.run([sys.executable, '-m', 'pytest', 'tests', '-q', '-p', 'no:cacheprovider', '-n', '2', '--dist', 'loadfile', f'--junitxml={xml}'],
                       cwd=ROOT, env={**os.environ, 'MPLBACKEND': 'Agg'})
    if not xml.exists():
        return record('pytest tests/', False, t0, f'pytest exited {r.returncode} without results')
    for case in ET.parse(xml).getroot().iter('testcase'):
        bad = case.find('failure') if case.find('failure') is not None else case.find('error')
        if case.find('skipped') is not None:       # reported, not counted (e.g. the browser test without a Chromium)
            skipped.append(f"pytest: {case.get('classname')}::{case.get('name')} ({(case.find('skipped').get('message') or '')[:200]})")
            continue
        results.append((f"pytest: {case.get('classname')}::{case.get('name')}", bad is None, float(case.get('time', 0)),
                        '' if bad is None else (bad.get('message') or '')[:500]))
    xml.unlink()
    if r.returncode not in (0, 1, 5):  # 1 = some tests failed (counted above), 5 = none collected
        record('pytest tests/ (collection)', False, t0, f'pytest exited {r.returncode}')

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--only', choices=['guards', 'nb', 'pytest'])
    ap.add_argument('--flags', default='', help='nbdev-test flags to enable, e.g. "slow"')
    a = ap.parse_args(); t_start = time.time()
    if a.only in (None, 'guards'): guards()
    if a.only in (None, 'nb'): notebooks(a.flags)
    if a.only in (None, 'pytest'): pytests()
    failed = [r for r in results if not r[1]]
    print(f'\n{len(results)} tests in {time.time()-t_start:.0f}s; slowest:')
    for name, ok, s, _ in sorted(results, key=lambda r: -r[2])[:5]: print(f'  {s:6.1f}s {name}')
    for name in skipped: print(f'SKIPPED {name}')
    for name, *_ in failed: print(f'FAILED {name}')
    print(f'{len(results)-len(failed)} passed, {len(failed)} failed')
    sys.exit(1 if failed else 0)
