"Outside Jupyter: the attention figure as the command line uses it, and the explorer without a kernel."
import numpy as np, pytest, torch
from sagan_seg.core import SaganSegError
from sagan_seg.synth import synth_tile
from sagan_seg.generator import Generator, GeneratorConfig
from sagan_seg import explorer
from sagan_seg.viz import AttentionVizError, attention_figure, run_attention
from sagan_seg.explorer import EXPLORER_PX, attention_explorer, ipympl_available

@pytest.fixture(scope='module')
def gen():
    torch.manual_seed(0)
    return Generator(GeneratorConfig(base_width=8, attn_variant='biggan', attn_levels=('bottleneck', 'dec2')))

@pytest.fixture(scope='module')
def tile():
    img, mask, _ = synth_tile(64, seed=3, n_glomeruli=1)
    return img, mask

def test_figure_to_png(gen, tile, tmp_path):
    img, mask = tile
    fig = attention_figure(gen, img, [(10, 12), (40, 50)], mask)
    out = tmp_path / 'fig.png'; fig.savefig(out)
    assert out.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert len(fig.axes) == 3 * 4                        # header row + one row per layer, 4 columns

def test_pooled_keys(gen, tile):
    res = run_attention(gen, tile[0])
    assert {k: tuple(res.map(k, (0, 0)).shape) for k in res.layers} == {'bottleneck': (2, 2), 'dec2': (8, 8)}

@pytest.mark.parametrize('call, msg', [
    (lambda g, im: attention_figure(g, im, [(64, 0)]), 'outside'),
    (lambda g, im: attention_figure(g, im, []), 'at least one'),
    (lambda g, im: attention_figure(g, im, [(0, 0)], layers=['enc9']), 'no attention layer'),
    (lambda g, im: attention_figure(g, im[:40], [(0, 0)]), 'divisible'),
    (lambda g, im: attention_figure(Generator(GeneratorConfig(base_width=8, attn_levels=())), im, [(0, 0)]), 'no attention layers'),
])
def test_clear_errors(gen, tile, call, msg):
    with pytest.raises(AttentionVizError, match=msg) as e: call(gen, tile[0])
    assert isinstance(e.value, SaganSegError)            # the CLI turns these into one-line messages

def test_explorer_headless(gen, tile):
    ex = attention_explorer(gen, *tile, interactive=False)   # a PNG in an Image widget, as without ipympl
    ex.set_query(20, 30); ex.layer_w.value = 'bottleneck'
    assert ex.state['point'] == (20, 30) and ex.state['key_grid'] == (2, 2)
    assert bytes(ex.view_w.value)[:4] == b'\x89PNG' and abs(len(ex.view_w.value) - len(ex.png())) < 2000
    assert (ex.view_w.layout.width, ex.view_w.layout.height) == tuple(f'{v}px' for v in EXPLORER_PX)
    assert 'pip install ipympl' in ex.hint_w.value

def test_explorer_ipympl_click(gen, tile):
    "With ipympl the canvas is the widget: no header/footer/toolbar/resize, and a browser click message moves the query."
    pytest.importorskip('ipympl')
    assert ipympl_available()
    ex = attention_explorer(gen, *tile)
    cv = ex.fig.canvas
    assert ex.interactive and ex.view_w is cv and tuple(ex.fig.bbox.size) == EXPLORER_PX
    assert (cv.header_visible, cv.footer_visible, cv.toolbar_visible, cv.resizable) == (False, False, False, False)
    xd, yd = ex.ax_pred.transData.transform((50, 12))         # tile pixel (y=12, x=50) on the predicted-mask panel
    cv._handle_message(cv, dict(type='button_press', x=xd, y=ex.fig.bbox.height - yd, button=0, buttons=1,
                                modifiers=[], guiEvent={}), [])
    assert ex.state['point'] == (12, 50) and (ex.y_w.value, ex.x_w.value) == (12, 50)
    before = ex.png(); ex.alpha_w.value = 0.1
    assert ex.png() != before

def test_explorer_without_ipympl(gen, tile, monkeypatch):
    "Where ipympl is missing the explorer falls back to the PNG view, and asking for clicks says what to install."
    monkeypatch.setattr(explorer, 'ipympl_available', lambda: False)
    ex = attention_explorer(gen, *tile)
    assert not ex.interactive and ex.view_w.value[:4] == b'\x89PNG'
    with pytest.raises(AttentionVizError, match='pip install ipympl'): attention_explorer(gen, *tile, interactive=True)
