"Outside Jupyter: the attention figure as the command line uses it, and the explorer without a kernel."
import numpy as np, pytest, torch
from sagan_seg.core import SaganSegError
from sagan_seg.synth import synth_tile
from sagan_seg.generator import Generator, GeneratorConfig
from sagan_seg.viz import AttentionVizError, attention_explorer, attention_figure, run_attention

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
    ex = attention_explorer(gen, *tile)
    ex.set_query(20, 30); ex.layer_w.value = 'bottleneck'
    assert ex.state['point'] == (20, 30) and ex.state['key_grid'] == (2, 2)
    assert ex.view_w.value[:4] == b'\x89PNG'
