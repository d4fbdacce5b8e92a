"""The notebooks survive nbdev's documentation step.

Before Quarto renders anything, `nbdev-docs` / `nbdev-preview` / `nbdev-proc-nbs` run `nbdev.serve.proc_nbs`: every
notebook goes through `nbdev.processors.FilterDefaults`, whose `exec_show_docs` *executes* each cell that holds an
import (anywhere in it), every exported cell and every `show_doc` cell, in one shell per notebook, with the project
root as working directory; it ignores `#| slow`. A cell that mixes an import with other code therefore runs out of
order (NameErrors), runs slow work (training), or writes files relative to the wrong folder.

These tests run that very processing (nbdev's own `proc_nbs`, serially; Quarto is not needed for it) over every
notebook of a copy of the repository in a temporary folder, and check: no error, no optimizer step (no training
started), nothing written into the copy (or next to it, or into the real repository) except nbdev's own `_proc/`
cache; and, statically, that every cell the processing executes is imports only (or an exported / `show_doc` cell),
and that a notebook has at most one exported imports cell and one other imports cell.
"""
import ast, hashlib, json, os, shutil, subprocess, sys, time
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
NBS = sorted((ROOT/'nbs').glob('*.ipynb'))
SKIP = {'.git', '.venv', '_proc', '_docs', 'report', 'runs', '__pycache__', '.ipynb_checkpoints', '.pytest_cache'}

def repo_files() -> list:
    "The files a fresh clone has (tracked + untracked, not ignored), relative to ROOT."
    try:
        out = subprocess.run(['git', 'ls-files', '-co', '--exclude-standard', '-z'], cwd=ROOT, capture_output=True,
                             check=True).stdout.decode().split('\0')
        return sorted({Path(p) for p in out if p and (ROOT/p).is_file()})
    except (OSError, subprocess.CalledProcessError):   # not a git checkout: everything but the usual build outputs
        return sorted(p.relative_to(ROOT) for p in ROOT.rglob('*') if p.is_file() and not SKIP & set(p.relative_to(ROOT).parts))

def snapshot(root: Path) -> dict:
    "{relative path: sha1} of every file under `root`, nbdev's `_proc/` cache and Python caches left out."
    return {str(p.relative_to(root)): hashlib.sha1(p.read_bytes()).hexdigest() for p in root.rglob('*')
            if p.is_file() and not {'_proc', '__pycache__'} & set(p.relative_to(root).parts)}

# Runs in a fresh interpreter inside the copy: nbdev's proc_nbs, serially, recording each notebook's error
# instead of stopping at the first, with a global optimizer hook that fails any training step.
DRIVER = r'''
import json, os, sys, time, warnings
from pathlib import Path
import torch
from torch.optim.optimizer import register_optimizer_step_pre_hook
def no_training(opt, args, kwargs):
    raise RuntimeError('nbdev docs processing started training (an optimizer step ran)')
register_optimizer_step_pre_hook(no_training)
import nbdev.serve, nbdev.serve_drv as drv
report, run = {}, drv.main
def main(o):
    t0 = time.time()
    try: run(o); err = None
    except BaseException as e:
        err = f'{type(e).__name__}: {e}'
        if len(err) > 2000: err = err[:800] + '\n[...]\n' + err[-1000:]   # which cell, and what went wrong
    report[Path(o[0]).name] = dict(error=err, seconds=round(time.time() - t0, 2))
drv.main = main
with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter('always')
    cache = nbdev.serve.proc_nbs('nbs', n_workers=0, force=True)
mixed = [str(x.message).split('---')[1].strip()[:200] for x in w if 'imports and other code' in str(x.message)]
print('RESULT ' + json.dumps(dict(report=report, mixed=mixed, cache=str(cache))))
'''

def executed_cells(nb_path: Path) -> list:
    "(index, source) of the cells nbdev's docs processing executes and that are not exported cells."
    import warnings
    from nbdev.process import NBProcessor
    from nbdev.processors import _do_eval
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        cells = NBProcessor(nb_path, procs=[]).nb.cells
        return [(i, c) for i, c in enumerate(cells) if c.cell_type == 'code' and _do_eval(c)
                and not c.directives_.keys() & {'export', 'exports', 'exporti', 'exec_doc'}]

def is_import_or_show_doc(node) -> bool:
    if isinstance(node, (ast.Import, ast.ImportFrom)): return True
    return (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) and isinstance(node.value.func, ast.Name)
            and node.value.func.id == 'show_doc')

@pytest.mark.parametrize('nb', NBS, ids=[p.stem for p in NBS])
def test_executed_cells_are_imports_only(nb):
    "Every non-exported cell that the docs processing executes holds imports (or a show_doc call) and nothing else."
    bad = [f'cell {i}:\n{c.source}' for i, c in executed_cells(nb)
           if not all(is_import_or_show_doc(t) for t in c.parsed_())]
    assert not bad, (f'{nb.name}: nbdev docs processing executes these cells (they hold an import) but they hold other '
                     f'code too: put the imports in a cell of their own\n' + '\n---\n'.join(bad))

@pytest.fixture(scope='module')
def processed(tmp_path_factory):
    "Copy the repository into a temporary folder and run nbdev's docs processing there."
    base = tmp_path_factory.mktemp('docs'); copy = base/'repo'
    for rel in repo_files():
        (copy/rel).parent.mkdir(parents=True, exist_ok=True); shutil.copy2(ROOT/rel, copy/rel)
    before, beside, top = snapshot(copy), sorted(os.listdir(base)), sorted(os.listdir(ROOT))
    env = {**os.environ, 'MPLBACKEND': 'Agg', 'OMP_NUM_THREADS': '1', 'PYTHONDONTWRITEBYTECODE': '1'}
    t0 = time.time()
    r = subprocess.run([sys.executable, '-c', DRIVER], cwd=copy, env=env, capture_output=True, text=True, timeout=600)
    seconds = time.time() - t0
    line = next((l for l in r.stdout.splitlines() if l.startswith('RESULT ')), None)
    assert r.returncode == 0 and line, f'docs processing crashed (exit {r.returncode}):\n{(r.stdout + r.stderr)[-4000:]}'
    res = json.loads(line[len('RESULT '):])
    return dict(res, copy=copy, seconds=seconds, written=sorted(set(snapshot(copy).items()) ^ set(before.items())),
                beside=sorted(set(os.listdir(base)) - set(beside)), top=sorted(set(os.listdir(ROOT)) - set(top)))

def test_docs_processing_runs_every_notebook(processed):
    "No error (no NameError from cells run out of order, no training: an optimizer step raises)."
    rep = processed['report']
    assert sorted(rep) == sorted(p.name for p in NBS), f'notebooks not processed: {set(p.name for p in NBS) - set(rep)}'
    errors = {k: v['error'] for k, v in rep.items() if v['error']}
    assert not errors, 'nbdev docs processing failed:\n' + '\n\n'.join(f'{k}: {v}' for k, v in errors.items())
    assert not processed['mixed'], f'cells mixing imports and other code were executed: {processed["mixed"]}'
    for p in NBS: assert (Path(processed['cache'])/p.name).is_file(), f'no processed copy of {p.name}'
    slow = {k: v['seconds'] for k, v in rep.items() if v['seconds'] > 60}
    assert not slow, f'notebooks whose docs processing runs more than a minute (something long is executed): {slow}'

def test_docs_processing_writes_nothing(processed):
    "Nothing written into the repository (only nbdev's own `_proc/` cache), nothing next to it, nothing in the real one."
    changed = sorted({p for p, _ in processed['written']})
    assert not changed, f'docs processing wrote into the repository: {changed}'
    assert not processed['beside'], f'docs processing wrote next to the repository: {processed["beside"]}'
    assert not processed['top'], f'docs processing wrote into the real repository: {processed["top"]}'

def import_only(source: str) -> bool:
    "A code cell that holds imports and nothing else (directives and comments aside)."
    body = '\n'.join(l for l in source.splitlines() if not l.lstrip().startswith('#'))
    try: tree = ast.parse(body)
    except SyntaxError: return False
    return bool(tree.body) and all(isinstance(n, (ast.Import, ast.ImportFrom)) for n in tree.body)

@pytest.mark.parametrize('nb', NBS, ids=[p.stem for p in NBS])
def test_one_imports_cell_of_each_kind(nb):
    """At most one exported imports cell (the module's) and one other imports cell (the notebook's own: tests, plots),
    both near the top: a reader sees every dependency at once, and the docs processing runs each cell once."""
    import re
    cs = [c for c in json.loads(nb.read_text())['cells'] if c['cell_type'] == 'code' and import_only(''.join(c['source']))]
    exported = [c.get('id') for c in cs if re.search(r'^#\|\s*export', ''.join(c['source']), re.M)]
    other = [c.get('id') for c in cs if c.get('id') not in exported]
    assert len(exported) <= 1, f'{nb.name}: several exported imports cells {exported}: merge them into one'
    assert len(other) <= 1, f'{nb.name}: several imports-only cells {other}: merge them into the hidden imports cell at the top'
