"""Small helpers for writing the notebooks from the command line.

    python tools/nbtool.py create nbs/01_x.ipynb src.py   # new notebook from a '# %%' percent-format file
    python tools/nbtool.py run nbs/01_x.ipynb [...]       # execute in place (keeps cell ids), shrink, then nbdev-clean
    python tools/nbtool.py shrink nbs/*.ipynb             # re-encode image outputs smaller (PNG_COLOURS, JPEG_QUALITY)
    python tools/nbtool.py run-fast nbs/19_paper.ipynb    # execute all but `#| slow` cells (they keep their outputs)

`create` refuses to overwrite a notebook that git already tracks (its cell ids are part of the exported
modules); edit tracked notebooks in place with `fastcore.nbio.read_nb`/`write_nb` instead.
"""
import re, subprocess, sys, uuid
from pathlib import Path
import nbformat

def parse_percent(text):
    "Split a '# %%' / '# %% [markdown]' file into (cell_type, source) pairs."
    cells, kind, buf = [], None, []
    def flush():
        if kind is None: return
        src = '\n'.join(buf).strip('\n')
        if kind == 'markdown':
            src = '\n'.join(l[2:] if l.startswith('# ') else (l[1:] if l.startswith('#') else l) for l in src.split('\n'))
        cells.append((kind, src))
    for line in text.split('\n'):
        m = re.match(r'^# %%(.*)$', line)
        if m:
            flush(); kind, buf = ('markdown' if '[markdown]' in m.group(1) else 'code'), []
        else: buf.append(line)
    flush()
    return cells

def create(nb_path, src_path, force=False):
    nb_path = Path(nb_path)
    tracked = subprocess.run(['git', 'ls-files', '--error-unmatch', str(nb_path)], capture_output=True).returncode == 0
    if tracked and not force: sys.exit(f'{nb_path} is tracked by git: edit it in place, do not regenerate it')
    nb = nbformat.v4.new_notebook()
    nb.metadata = {'kernelspec': {'display_name': 'python3', 'language': 'python', 'name': 'python3'}}
    for kind, src in parse_percent(Path(src_path).read_text()):
        c = nbformat.v4.new_markdown_cell(src) if kind == 'markdown' else nbformat.v4.new_code_cell(src)
        c.id = uuid.uuid4().hex[:8]
        nb.cells.append(c)
    nbformat.write(nb, nb_path)
    print(f'wrote {nb_path} ({len(nb.cells)} cells)')

MAX_WIDTH = 640   # px: wider image outputs are scaled down (a notebook column shows about this much)
PNG_COLOURS, JPEG_QUALITY = 10, 22   # plots need few colours; tissue photos survive quality 22 at notebook size

def _smaller(b64:str, kind:str)->str:
    """An image output re-encoded smaller (at most MAX_WIDTH px wide; PNG: a PNG_COLOURS palette; JPEG: JPEG_QUALITY), or
    unchanged if that is not smaller."""
    import base64, io
    from PIL import Image
    raw = base64.b64decode(b64)
    im, out = Image.open(io.BytesIO(raw)), io.BytesIO()
    if im.width > MAX_WIDTH: im = im.convert('RGB').resize((MAX_WIDTH, round(im.height * MAX_WIDTH / im.width)), Image.LANCZOS)
    elif kind == "image/png" and im.mode == "P" and len(im.getcolors(256) or []) <= PNG_COLOURS: return b64   # already small
    # octree keeps a plot's few saturated line colours apart; median cut (the default) spends the palette on
    # anti-aliasing greys and turns coloured lines grey. It is also smaller here.
    if kind == 'image/png': im.convert('RGB').quantize(PNG_COLOURS, method=Image.Quantize.FASTOCTREE).save(out, 'PNG', optimize=True)
    else: im.convert('RGB').save(out, 'JPEG', quality=JPEG_QUALITY, optimize=True)
    new = base64.b64encode(out.getvalue()).decode()
    return new if len(new) < len(b64) else b64

def shrink(*nbs):
    """Re-encode every PNG/JPEG output of the notebooks smaller, in place (cell ids and everything else kept), and drop
    the saved widget state (`metadata.widgets`: ipywidgets' models, which nbdev-clean keeps and a reader does not need)."""
    for path in nbs:
        nb = nbformat.read(path, as_version=4); before = len(Path(path).read_bytes())
        nb.metadata.pop('widgets', None)
        for c in nb.cells:
            for o in c.get('outputs', []):
                for kind in ('image/png', 'image/jpeg'):
                    if kind in o.get('data', {}):
                        v = o['data'][kind]; v = v if isinstance(v, str) else ''.join(v)
                        o['data'][kind] = _smaller(v.replace('\n', ''), kind)
        nbformat.write(nb, path)
        print(f'{path}: {before // 1024} -> {len(Path(path).read_bytes()) // 1024} KB')

def run(*nbs):
    import os
    # the kernel must draw inline: an inherited MPLBACKEND=Agg would make every plt.show() silently drop its figure
    env = {k: v for k, v in os.environ.items() if k != 'MPLBACKEND'}
    for nb in nbs:
        subprocess.run([sys.executable, '-m', 'jupyter', 'nbconvert', '--to', 'notebook', '--execute', '--inplace',
                        '--ExecutePreprocessor.timeout=1200', nb], check=True, env=env)
    shrink(*nbs)
    bin_ = Path(sys.executable).parent
    subprocess.run([str(bin_/'nbdev-clean')], check=True)

def run_fast(*nbs):
    "Execute every cell but the `#| slow` ones in place, in the notebook's folder; slow cells keep their committed outputs."
    import os
    from execnb.shell import CaptureShell
    from fastcore.nbio import read_nb, write_nb
    for path in nbs:
        path = Path(path).resolve(); nb = read_nb(path); here = os.getcwd()
        os.chdir(path.parent)
        try:
            sh = CaptureShell(mpl_format='png')      # execnb's default, 'retina', draws every figure at twice the pixels `run` gives
            sh.run_all(nb, exc_stop=True, preproc=lambda c: c.cell_type == 'code' and re.search(r'^#\|\s*slow\b', c.source, re.M) is not None)
        finally: os.chdir(here)
        write_nb(nb, path)
    shrink(*nbs)
    subprocess.run([str(Path(sys.executable).parent/'nbdev-clean')], check=True)

if __name__ == '__main__':
    cmd, *args = sys.argv[1:]
    if cmd == 'create': create(args[0], args[1], force='--force' in args)
    elif cmd == 'run': run(*args)
    elif cmd == 'shrink': shrink(*args)
    elif cmd == 'run-fast': run_fast(*args)
    else: sys.exit(__doc__)
