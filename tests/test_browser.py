"""The notebooks in a real JupyterLab, driven by a headless Chromium.

A JupyterLab server starts on a free local port with a token, in a temporary folder (its settings, workspaces and
runtime files there too), and Playwright drives Chromium through it:

1. a small notebook builds the attention explorer on a tiny untrained generator and runs in the page: the widget
   renders (the sliders, the ipympl canvas without header or toolbar, drawn at its displayed size); dragging the
   `query y` slider moves the query and changes the picture; a click on the tile moves the query to the pixel
   clicked (computed by the kernel from the figure's own transform); the PNG fallback (`interactive=False`) is shown
   at its pixel size, not stretched;
2. `18_explorer`'s fast cells (a copy without any `#| slow` ones) run in the page to the end with no error output.

Chromium: `$CHROMIUM`, else `chromium` / `chromium-browser` / `google-chrome` on PATH (Debian: `apt-get install
chromium`; `.ci/run` installs it); Playwright's own download is not needed. Without one (or without the `playwright`
package) the tests report themselves skipped. Everything is bounded (about 90 s in all) and the server, its kernels
and the browser are stopped whatever happens.
"""
import json, os, shutil, signal, socket, subprocess, sys, time, urllib.request
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
BUDGET_S = 85                                           # the whole module, server start to the last check

def find_chromium():
    for c in [os.environ.get('CHROMIUM')] + ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable']:
        p = c and shutil.which(c)
        if p: return p

CHROMIUM = find_chromium()
if not CHROMIUM:
    pytest.skip('no Chromium found (Debian: apt-get install chromium; or set CHROMIUM=/path/to/chrome)', allow_module_level=True)
sync_api = pytest.importorskip('playwright.sync_api', reason='the playwright package is not installed (pip install -e ".[dev]")')
if not shutil.which('jupyter-lab', path=str(BIN)):
    pytest.skip(f'no jupyter-lab next to {sys.executable}', allow_module_level=True)

T0 = [None]                                             # when the server was started
def left_ms(cap_s: float = BUDGET_S) -> float:
    "Milliseconds left of the module's budget (at most `cap_s` seconds)."
    return max(1000., 1000 * min(cap_s, BUDGET_S - (time.monotonic() - T0[0])))

def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

def code(src): return dict(cell_type='code', execution_count=None, id=f'c{abs(hash(src)) % 10**8:08d}', metadata={}, outputs=[], source=src)
def notebook(cells): return dict(cells=cells, nbformat=4, nbformat_minor=5, metadata={
    'kernelspec': {'display_name': 'Python 3 (ipykernel)', 'language': 'python', 'name': 'python3'},
    'language_info': {'name': 'python'}})

EXPLORER_NB = notebook([
    code("import torch\n"
         "from sagan_seg.synth import synth_tile\n"
         "from sagan_seg.generator import Generator, GeneratorConfig\n"
         "from sagan_seg.explorer import attention_explorer, EXPLORER_DPI, EXPLORER_PX"),
    code("torch.manual_seed(0)\n"
         "g = Generator(GeneratorConfig(base_width=8))                  # tiny and untrained\n"
         "tile, mask, _ = synth_tile(64, seed=3)\n"
         "ex = attention_explorer(g, tile, mask)\n"
         "ex"),
    code("# where tile pixel (y=40, x=20) is on the canvas, in CSS px from its top left (the figure's own transform)\n"
         "ex.fig.draw_without_rendering()                                 # the constrained layout placed the axes\n"
         "xd, yd = ex.ax_img.transData.transform((20, 40)); r = ex.fig.dpi / EXPLORER_DPI\n"
         "print(f'TARGET {xd / r:.2f} {(ex.fig.bbox.height - yd) / r:.2f} {ex.interactive}')"),
    code("ex_png = attention_explorer(g, tile, mask, interactive=False)   # what a kernel without ipympl shows\n"
         "ex_png"),
])

def fast_copy(nb_path: Path) -> dict:
    "The notebook without its `#| slow` cells and outputs, with a last cell that says the run got to the end."
    nb = json.loads(nb_path.read_text())
    src = lambda c: ''.join(c['source']) if isinstance(c['source'], list) else c['source']
    keep = []
    for c in nb['cells']:
        if c['cell_type'] == 'code':
            if any(l.strip().replace(' ', '') == '#|slow' for l in src(c).splitlines() if l.startswith('#|')): continue
            c = dict(c, outputs=[], execution_count=None)
        keep.append(c)
    return dict(nb, cells=keep + [code("print('RUN' + '-COMPLETE')")])

def children(pid: int) -> list:
    "Process ids whose parent is `pid` (Linux /proc; elsewhere none)."
    out = []
    for d in Path('/proc').glob('[0-9]*'):
        try:
            if int((d/'stat').read_text().rsplit(')', 1)[1].split()[1]) == pid: out.append(int(d.name))
        except (OSError, ValueError, IndexError): pass
    return out

@pytest.fixture(scope='module')
def lab(tmp_path_factory):
    "A JupyterLab server in a temporary folder; yields (base URL, token, work folder); always stopped."
    base = tmp_path_factory.mktemp('lab'); work = base/'work'; work.mkdir()
    settings = base/'settings'
    for ext, body in [('notebook-extension/tracker', {'windowingMode': 'none'}),   # every cell in the DOM
                      ('apputils-extension/notification', {'fetchNews': 'false', 'checkForUpdates': False})]:
        f = settings/'@jupyterlab'/f'{ext}.jupyterlab-settings'; f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(json.dumps(body))
    port, token = free_port(), os.urandom(16).hex()
    env = {k: v for k, v in os.environ.items() if k != 'MPLBACKEND'}    # the kernel as a user's: inline backend
    env.update(PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}", JUPYTERLAB_SETTINGS_DIR=str(settings),
               JUPYTERLAB_WORKSPACES_DIR=str(base/'workspaces'), JUPYTER_CONFIG_DIR=str(base/'config'),
               JUPYTER_RUNTIME_DIR=str(base/'runtime'), IPYTHONDIR=str(base/'ipython'))
    cmd = [str(BIN/'jupyter-lab'), '--no-browser', '--ip=127.0.0.1', f'--port={port}', '--port-retries=0',
           f'--ServerApp.token={token}', f'--ServerApp.root_dir={work}', '--LabApp.news_url=',
           # a backstop should this process die without stopping it: idle kernels culled, then the server exits
           '--MappingKernelManager.cull_idle_timeout=120', '--MappingKernelManager.cull_interval=30',
           '--ServerApp.shutdown_no_activity_timeout=180']
    if hasattr(os, 'geteuid') and os.geteuid() == 0: cmd.append('--allow-root')
    T0[0] = time.monotonic()
    log = open(base/'server.log', 'wb')
    proc = subprocess.Popen(cmd, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f'http://127.0.0.1:{port}'
    try:
        while True:
            try:
                with urllib.request.urlopen(f'{url}/api/status?token={token}', timeout=2) as r:
                    if r.status == 200: break
            except OSError: pass
            assert proc.poll() is None, f'JupyterLab exited ({proc.returncode}):\n{(base/"server.log").read_text()[-3000:]}'
            assert time.monotonic() - T0[0] < 40, f'JupyterLab did not answer in 40 s:\n{(base/"server.log").read_text()[-3000:]}'
            time.sleep(0.3)
        yield url, token, work
    finally:
        kernels = children(proc.pid)                    # kernels run in sessions of their own
        try: os.killpg(proc.pid, signal.SIGTERM)        # the server shuts its kernels down
        except ProcessLookupError: pass
        try: proc.wait(8)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL); proc.wait(5)
        for pid in kernels:                             # and whatever it left behind
            try: os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError): pass
        log.close()

@pytest.fixture(scope='module')
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=['--no-sandbox'], headless=True)
        try: yield b
        finally: b.close()

def start_run(browser, lab, name: str, nb: dict):
    "Write `nb` into the server's folder, open it in a page and Run All Cells; returns (page, number of code cells)."
    url, token, work = lab
    (work/name).write_text(json.dumps(nb))
    page = browser.new_page(viewport={'width': 1400, 'height': 1000})
    page.set_default_timeout(left_ms(30))
    page.goto(f'{url}/lab/workspaces/{Path(name).stem}/tree/{name}?reset&token={token}')   # one fresh workspace per page
    page.wait_for_selector('.jp-Notebook .jp-CodeCell', timeout=left_ms(40))
    page.locator('#jp-main-statusbar').get_by_text('Idle').first.wait_for(timeout=left_ms(40))   # the kernel is up
    page.get_by_role('menuitem', name='Run', exact=True).click()
    page.click('li[data-command="runmenu:run-all"]')
    return page, sum(c['cell_type'] == 'code' for c in nb['cells'])

def wait_run(page, n: int, name: str, timeout_s: float):
    "Wait until every code cell has run, or an error stopped the run (no cell queued or running any more)."
    done = """n => { const p = [...document.querySelectorAll('.jp-NotebookPanel .jp-CodeCell .jp-InputPrompt')].map(e => e.textContent);
                     const err = document.querySelector('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]');
                     return (p.length === n && p.every(t => /\\[\\d+\\]/.test(t))) || (err && !p.some(t => t.includes('*'))) }"""
    try: page.wait_for_function(done, arg=n, timeout=left_ms(timeout_s))
    except sync_api.TimeoutError:
        prompts = page.eval_on_selector_all('.jp-NotebookPanel .jp-CodeCell .jp-InputPrompt', 'els => els.map(e => e.textContent)')
        pytest.fail(f'{name}: the run did not finish in time; prompts: {prompts}; errors: {error_outputs(page)}')
    return page

@pytest.fixture(scope='module')
def explorer_run(browser, lab):
    "18_explorer's fast cells, started first: they run in their own kernel while the explorer test works."
    page, n = start_run(browser, lab, '18_explorer_fast.ipynb', fast_copy(ROOT/'nbs'/'18_explorer.ipynb'))
    yield page, n
    page.close()

def error_outputs(page) -> list:
    return page.eval_on_selector_all('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]',
                                     'els => els.map(e => e.innerText.slice(0, 800))')

def test_explorer_in_jupyterlab(explorer_run, browser, lab):
    page, n = start_run(browser, lab, 'explorer.ipynb', EXPLORER_NB)
    wait_run(page, n, 'explorer.ipynb', 40)
    assert not error_outputs(page), error_outputs(page)
    out = page.locator('.jp-Cell').nth(1).locator('.jp-OutputArea-output')
    # it renders: the sliders, the status line, and the ipympl canvas once its first picture arrived
    for label in ('opacity', 'query y', 'query x'):
        assert out.locator('.widget-hslider .widget-label', has_text=label).count() == 1, f'no {label!r} slider'
    info = out.locator('.widget-html-content', has_text='query (y=')
    assert 'query (y=32, x=32)' in info.inner_text()
    fig = out.locator('.jupyter-matplotlib-canvas-div')
    page.wait_for_function("""el => [...el.querySelectorAll('canvas')].every(c => c.width > 0)""",
                           arg=fig.element_handle(), timeout=left_ms(20))
    assert out.locator('.jupyter-matplotlib-header').is_hidden()     # no "Figure 1"
    assert out.locator('.jupyter-matplotlib-toolbar').evaluate('e => getComputedStyle(e).visibility') == 'hidden'
    assert out.locator('.jupyter-matplotlib-footer').is_hidden()
    box, dpr = fig.bounding_box(), page.evaluate('devicePixelRatio')
    width = fig.locator('canvas').first.evaluate('c => c.width')
    assert (round(box['width']), round(box['height'])) == (720, 270)       # EXPLORER_PX, displayed as drawn
    assert width == round(720 * dpr)                                        # one canvas pixel per device pixel: crisp
    # drag the 'query y' slider: the query and the picture change
    before = fig.screenshot()
    handle = out.locator('.widget-hslider', has_text='query y').locator('.noUi-handle')
    hb = handle.bounding_box()
    page.mouse.move(hb['x'] + hb['width'] / 2, hb['y'] + hb['height'] / 2); page.mouse.down()
    page.mouse.move(hb['x'] + hb['width'] / 2 + 40, hb['y'] + hb['height'] / 2, steps=5); page.mouse.up()
    page.wait_for_function("el => !el.textContent.includes('query (y=32,')", arg=info.element_handle(), timeout=left_ms(15))
    y_new = int(out.locator('.widget-hslider', has_text='query y').locator('.widget-readout').inner_text())
    assert y_new > 32 and f'query (y={y_new}, x=32)' in info.inner_text()
    deadline = time.monotonic() + 10
    while fig.screenshot() == before and time.monotonic() < deadline: time.sleep(0.2)
    assert fig.screenshot() != before, 'the picture did not change after the slider moved'
    # click tile pixel (y=40, x=20) on the left panel: the query goes there
    target = page.locator('.jp-Cell').nth(2).locator('.jp-OutputArea-output').inner_text().split()
    assert target[0] == 'TARGET' and target[3] == 'True', target          # ipympl is installed: interactive
    fig.click(position={'x': float(target[1]), 'y': float(target[2])})
    try: page.wait_for_function("el => !el.textContent.includes(', x=32)')", arg=info.element_handle(), timeout=left_ms(15))
    except sync_api.TimeoutError: pytest.fail(f'a click at {target[1:3]} on the canvas did not move the query: {info.inner_text()}')
    y, x = (int(out.locator('.widget-hslider', has_text=l).locator('.widget-readout').inner_text()) for l in ('query y', 'query x'))
    assert abs(y - 40) <= 1 and abs(x - 20) <= 1, f'clicked tile pixel (40, 20), the query went to {(y, x)}'   # 1 px: rounding
    assert f'query (y={y}, x={x})' in info.inner_text()
    # without ipympl: a PNG shown at its own size (not stretched to the cell's width), and a line on how to get clicks
    png_out = page.locator('.jp-Cell').nth(3).locator('.jp-OutputArea-output')
    img = png_out.locator('img')
    size = img.evaluate('i => [i.naturalWidth, i.naturalHeight, i.clientWidth, i.clientHeight]')
    assert size == [720, 270, 720, 270], size
    assert 'pip install ipympl' in png_out.inner_text()
    page.close()

def test_explorer_notebook_fast_cells_in_jupyterlab(explorer_run):
    "18_explorer without any slow cells runs to the end in the page, with no error output."
    page = wait_run(*explorer_run, '18_explorer_fast.ipynb', 80)
    errs = error_outputs(page)
    assert not errs, 'error output in 18_explorer:\n' + '\n---\n'.join(errs)
    assert page.locator('.jp-OutputArea-output', has_text='RUN-COMPLETE').count() == 1, 'the run stopped before the end'
    assert page.locator('.jp-OutputArea-output .jupyter-matplotlib-canvas-div').count() >= 1   # the explorer rendered
