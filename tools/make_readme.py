"""Write README.md from nbs/index.ipynb (Quarto is not available offline, so nbconvert does it).

    python tools/make_readme.py           # write README.md
    python tools/make_readme.py --check   # exit 1 when README.md is stale

nbdev's cell directives are honoured: `#| hide` drops a cell, `#| echo: false` keeps only its output,
other `#|` lines are removed. Image outputs are dropped (README links committed images instead).
"""
import copy, re, sys
from pathlib import Path
import nbformat
from nbconvert import MarkdownExporter

ROOT = Path(__file__).resolve().parents[1]
HEADER = '<!-- Generated from nbs/index.ipynb by tools/make_readme.py: edit the notebook, not this file. -->\n\n'

def directives(src):
    return {m.group(1).strip(): (m.group(2) or '').strip() for m in re.finditer(r'^#\|\s*([\w-]+):?\s*(.*)$', src, re.M)}

def render(nb_path=ROOT/'nbs'/'index.ipynb'):
    nb = nbformat.read(nb_path, as_version=4)
    cells = []
    for c in nb.cells:
        d = directives(c.source) if c.cell_type == 'code' else {}
        if 'hide' in d or 'exporti' in d or d.get('include') == 'false': continue
        c = copy.deepcopy(c)
        if c.cell_type == 'code':
            c.source = re.sub(r'^#\|.*\n?', '', c.source, flags=re.M).strip()
            c.outputs = [o for o in c.get('outputs', []) if o.get('output_type') != 'display_data'
                         or 'text/markdown' in o.get('data', {}) or 'text/html' in o.get('data', {})]
            for o in c.outputs:
                if 'data' in o: o['data'] = {k: v for k, v in o['data'].items() if not k.startswith('image/')}
            if d.get('echo') == 'false': c.source = ''
        cells.append(c)
    nb.cells = cells
    body, _ = MarkdownExporter(exclude_input_prompt=True, exclude_output_prompt=True).from_notebook_node(nb)
    body = re.sub(r'\n```python\n\n```\n', '\n', body)     # cells whose source was hidden
    body = re.sub(r'\n{3,}', '\n\n', body).strip() + '\n'
    return HEADER + body

if __name__ == '__main__':
    text, readme = render(), ROOT/'README.md'
    if '--check' in sys.argv:
        if not readme.exists() or readme.read_text(encoding='utf-8') != text:
            sys.exit('README.md is stale: run `python tools/make_readme.py` (it is generated from nbs/index.ipynb)')
        print('README.md is current')
    else:
        readme.write_text(text, encoding='utf-8'); print('wrote README.md')
