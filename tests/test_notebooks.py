"""The notebooks as committed and the shape of the reading path: small outputs and a small folder, no temporary paths, a
picture before the code, a title and a one-line summary first, names `NN_name` in reading order, modules and functions of
a readable size, and no module importing from a notebook that comes later."""
import json, re
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
NBS = sorted((ROOT/'nbs').glob('[0-9]*.ipynb'))

def cells(p): return json.loads(p.read_text())['cells']
def src(c): return ''.join(c['source'])
def outputs_bytes(p): return sum(len(json.dumps(o)) for c in cells(p) for o in c.get('outputs', []))

def test_outputs_total_under_limit():
    total = sum(outputs_bytes(p) for p in NBS)
    assert total < 1.5e6, f'committed notebook outputs total {total / 1e6:.2f} MB (limit 1.5 MB): shrink figures (tools/nbtool.py shrink)'

TMP = re.compile(r'/tmp/|tmp[a-z0-9_]{6,}/|/var/folders/')

@pytest.mark.parametrize('nb', NBS, ids=lambda p: p.stem)
def test_no_temporary_paths_in_outputs(nb):
    bad = [c.get('id') for c in cells(nb) for o in c.get('outputs', []) if TMP.search(json.dumps(o.get('text', '')) + json.dumps(o.get('data', {}).get('text/plain', '')))]
    assert not bad, f'{nb.name}: temporary paths printed in cells {bad}'

def has_picture(c):
    return any(k.startswith('image/') for o in c.get('outputs', []) for k in o.get('data', {})) or \
           (c['cell_type'] == 'markdown' and re.search(r'!\[[^\]]*\]\(', src(c)) is not None)

def defines_code(c):
    s = src(c)
    return c['cell_type'] == 'code' and s.lstrip().startswith('#| export') and re.search(r'^(def|class) ', s, re.M) is not None

@pytest.mark.parametrize('nb', NBS, ids=lambda p: p.stem)
def test_picture_before_code(nb):
    cs = cells(nb)
    first_def = next((i for i, c in enumerate(cs) if defines_code(c)), len(cs))
    assert any(has_picture(c) for c in cs[:first_def]), f'{nb.name}: no picture before its first exported function or class'

@pytest.mark.parametrize('mod', sorted(p for p in (ROOT/'sagan_seg').glob('*.py') if p.name != '_modidx.py'), ids=lambda p: p.stem)
def test_module_size(mod):
    n = len(mod.read_text().splitlines())
    assert n <= 450, f'{mod.name} has {n} lines (limit 450): split it by concern'

# The shape of the reading path: what "one idea per notebook, in an order a student can follow" means in checks.

PKG = ROOT/'sagan_seg'
MODULES = sorted(p for p in PKG.glob('*.py') if p.name not in ('_modidx.py', '__init__.py'))
NAME = re.compile(r'^(\d\d)_[a-z0-9]+(_[a-z0-9]+)*\.ipynb$')

def long_functions(limit:int=60) -> list:
    "'module.py:line name (n lines)' for every function or method in the package longer than `limit` lines."
    import ast
    out = []
    for p in MODULES:
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > limit: out.append(f'{p.name}:{node.lineno} {node.name} ({n} lines)')
    return out

def test_functions_short():
    "No function or method in the package over 60 lines: a longer one does several jobs, each of which can be named."
    bad = long_functions()
    assert not bad, 'functions over 60 lines (split them by job):\n  ' + '\n  '.join(bad)

def module_numbers() -> dict:
    "{module name: reading-order number of the notebook that exports it}, from each notebook's `#| default_exp`."
    out = {}
    for nb in NBS:
        for c in cells(nb):
            m = re.search(r'^#\|\s*default_exp\s+(\S+)', src(c), re.M)
            if c['cell_type'] == 'code' and m: out[m.group(1)] = int(nb.name[:2]); break
    return out

def top_level_imports(path: Path) -> set:
    "Names of the package's modules that `path` imports at top level (imports inside functions and classes not counted)."
    import ast
    found, todo = set(), list(ast.parse(path.read_text()).body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.If, ast.Try, ast.With)):                    # still top level: look inside
            todo += [n for f in ('body', 'orelse', 'finalbody') for n in getattr(node, f, [])]
            todo += [n for h in getattr(node, 'handlers', []) for n in h.body]
        elif isinstance(node, ast.ImportFrom):
            mod = node.module or ''
            if node.level == 1 and mod: found.add(mod.split('.')[0])
            elif node.level == 1: found |= {a.name for a in node.names}       # from . import x
            elif mod == 'sagan_seg': found |= {a.name for a in node.names}   # from sagan_seg import x
            elif mod.startswith('sagan_seg.'): found.add(mod.split('.')[1])
        elif isinstance(node, ast.Import):
            found |= {a.name.split('.')[1] for a in node.names if a.name.startswith('sagan_seg.')}
    return found

def test_no_upward_imports():
    """A module imports at top level only modules whose notebooks come earlier in the reading order, so a student
    reading in order never meets a name from a later notebook (imports inside functions are allowed: they run late)."""
    num = module_numbers()
    assert len(num) >= 10, f'too few `#| default_exp` found in nbs/: {num}'
    bad = []
    for p in MODULES:
        if p.stem not in num: continue                                       # not exported by a notebook
        for dep in sorted(top_level_imports(p) & set(num)):
            if num[dep] >= num[p.stem]:
                bad.append(f'{p.stem} ({num[p.stem]:02d}) imports {dep} ({num[dep]:02d})')
    assert not bad, 'upward imports (move the import into the function that needs it, or the helper earlier):\n  ' + '\n  '.join(bad)

def test_notebook_names():
    "Every notebook is `NN_name.ipynb` (no letter suffix such as `14a`: the order is the number), each number once."
    names = sorted(p.name for p in (ROOT/'nbs').glob('*.ipynb') if p.name != 'index.ipynb')
    bad = [n for n in names if not NAME.match(n)]
    assert not bad, f'notebook names not of the form NN_name.ipynb: {bad}'
    nums = [n[:2] for n in names]
    dup = sorted({n for n in nums if nums.count(n) > 1})
    assert not dup, f'notebook numbers used twice: {[n for n in names if n[:2] in dup]}'

def test_notebooks_folder_size():
    """The notebooks are the library's source, so their weight grows with its modules, and only with them: their outputs
    (figures, tables) stay under 450 KB together, no notebook weighs over 120 KB, all of them under 1.5 MB (each line end
    counted as two bytes, as in a CRLF checkout), and the pictures beside them under 100 KB. History and long measurement
    narratives belong in benchmarks/RESULTS.md."""
    weight = lambda b: len(b) + b.count(b'\n')      # counted as a CRLF checkout stores them, the heavier of the two common counts
    sizes = sorted(((weight(p.read_bytes()), str(p.relative_to(ROOT))) for p in (ROOT/'nbs').glob('*.ipynb')), reverse=True)
    total, outs = sum(s for s, _ in sizes), sum(outputs_bytes(p) for p in (ROOT/'nbs').glob('*.ipynb'))
    assert outs < 4.5e5, f'the notebooks\' outputs weigh {outs / 1e3:.0f} KB (limit 450 KB): shrink figures (tools/nbtool.py shrink)'
    assert sizes[0][0] < 1.2e5, f'{sizes[0][1]} weighs {sizes[0][0] // 1000} KB (limit 120 KB): split it, or move narrative to benchmarks/RESULTS.md'
    assert total < 1.5e6, f'the notebooks weigh {total / 1e6:.2f} MB (limit 1.5 MB); largest: ' + ', '.join(f'{n} {s // 1000} KB' for s, n in sizes[:5])
    pictures = sum(p.stat().st_size for p in (ROOT/'nbs'/'images').rglob('*') if p.is_file())
    assert pictures < 1e5, f'nbs/images holds {pictures // 1000} KB (limit 100 KB)'

def title_and_summary(nb: Path):
    "The first markdown cell's first two non-empty lines."
    md = next((src(c) for c in cells(nb) if c['cell_type'] == 'markdown'), '')
    lines = [l for l in md.splitlines() if l.strip()]
    return (lines + ['', ''])[:2]

@pytest.mark.parametrize('nb', NBS, ids=lambda p: p.stem)
def test_title_says_one_idea(nb):
    "Each numbered notebook opens with a `# Title` and a one-line `> summary`: what it teaches, before any detail."
    title, summary = title_and_summary(nb)
    assert title.startswith('# ') and len(title) > 2, f'{nb.name}: first markdown cell does not start with a `# Title`: {title!r}'
    assert summary.startswith('> ') and len(summary) > 2, f'{nb.name}: the title is not followed by a `> summary` line: {summary!r}'

POINTER = re.compile(r'\b(\d\d_[a-z][a-z0-9_]*)\b')

def test_pointers_name_existing_notebooks():
    "Every `NN_name` a notebook or the README mentions is a notebook that exists: renumbering leaves no stale pointer."
    names = {p.stem for p in (ROOT/'nbs').glob('*.ipynb')}
    texts = [(nb.name, src(c)) for nb in sorted((ROOT/'nbs').glob('*.ipynb')) for c in cells(nb)]
    if (ROOT/'README.md').exists(): texts.append(('README.md', (ROOT/'README.md').read_text()))
    bad = sorted({f'{where}: {m}' for where, s in texts for m in POINTER.findall(s) if m not in names})
    assert not bad, 'pointers to notebooks that do not exist (renumbered or renamed?):\n  ' + '\n  '.join(bad)

@pytest.mark.parametrize('nb', NBS, ids=lambda p: p.stem)
def test_no_saved_widget_state(nb):
    "Executed widgets leave their models in `metadata.widgets` (hundreds of KB, useless to a reader): tools/nbtool.py drops them."
    assert 'widgets' not in json.loads(nb.read_text()).get('metadata', {}), f'{nb.name}: saved widget state (run tools/nbtool.py shrink)'

def test_overview_lists_every_notebook_in_order():
    "00_overview's reading-order tables name every numbered notebook once, in file order (README's table is generated)."
    ov = next(p for p in NBS if p.name.startswith('00_'))
    listed = [m.group(1) for c in cells(ov) if c['cell_type'] == 'markdown'
              for m in re.finditer(r'^\| `(\d\d_\w+)` \|', src(c), re.M)]
    assert listed == [p.stem for p in NBS], f'00_overview lists {listed}'
