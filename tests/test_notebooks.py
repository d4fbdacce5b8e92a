"""The notebooks as committed: small outputs, no temporary paths, a picture before the code, modules of a readable size."""
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
