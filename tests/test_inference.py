"""Whole-slide inference (sagan_seg.inference): band geometry, model state, outputs on disk, interruptions, errors."""
import json
import numpy as np
import pandas as pd
import pytest
import tifffile
import torch
from PIL import Image
from scipy import ndimage
from torch import nn

from sagan_seg.core import DEFAULT_CLASS_MAP, ClassMap, SaganSegError
from sagan_seg.synth import synth_tile
from sagan_seg.slides import write_pyramidal_tiff
from sagan_seg.generator import Generator, GeneratorConfig
from sagan_seg.glomeruli import GlomerulusCounter, quantify_glomeruli
from sagan_seg.inference import OUTPUTS, InferenceError, predict_slide, sliding_window_predict, stream_bands, tile_probs


class Pointwise(nn.Module):
    "A 1x1 convolution: no spatial context, so tiled and whole-image predictions agree exactly."
    def __init__(self, k=4, size_multiple=1):
        super().__init__(); torch.manual_seed(0)
        self.conv, self.size_multiple = nn.Conv2d(3, k, 1), size_multiple
    def forward(self, x): return self.conv(x)


@pytest.fixture(scope='module')
def slide(tmp_path_factory):
    "A 3-level pyramidal TIFF (600 x 420 px at level 0, 0.25 µm/px)."
    rgb = synth_tile((420, 600), seed=2)[0]
    return write_pyramidal_tiff(tmp_path_factory.mktemp('slide') / 'slide.tif', rgb, levels=3, tile=128, mpp=0.25), rgb


@pytest.mark.parametrize('H, tile, overlap', [(128, 128, 0), (300, 128, 32), (517, 96, 40), (1000, 256, 64)])
def test_bands_cover_every_row_once(H, tile, overlap):
    W = 260
    img = np.random.default_rng(0).integers(0, 256, (H, W, 3), dtype=np.uint8)
    read = lambda x, y, w, h: img[y:y + h, x:x + w]
    ys = []
    for y, sums, wts in stream_bands(Pointwise(), read, H, W, tile, overlap, batch=3):
        assert sums.shape == (4, wts.shape[0], W) and 0 < wts.shape[0] <= tile    # never more than one tile's height
        assert (wts > 0).all()
        ys.append((y, wts.shape[0]))
    assert ys[0][0] == 0 and all(a + h == b for (a, h), (b, _) in zip(ys, ys[1:])) and ys[-1][0] + ys[-1][1] == H


def test_model_modes_restored_even_when_interrupted():
    g = Generator(GeneratorConfig(depth=2, base_width=4, attn_levels=()))
    g.train(); g.encoder[0].eval()                                                  # a mixed state
    before = [m.training for m in g.modules()]
    img = np.zeros((64, 64, 3), np.uint8)
    sliding_window_predict(g, img, tile=32, overlap=8)
    assert [m.training for m in g.modules()] == before
    it = stream_bands(g, lambda x, y, w, h: img[y:y + h, x:x + w], 64, 64, 32, 8)
    next(it)
    assert not g.training                                                           # eval while predicting
    it.close()                                                                      # a consumer that stops early
    assert [m.training for m in g.modules()] == before


def test_float_and_uint8_input_agree():
    img = np.random.default_rng(1).integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    m, dev = Pointwise(), torch.device('cpu')
    torch.testing.assert_close(tile_probs(m, img, dev), tile_probs(m, img / 255.0, dev))


def test_rejects_non_rgb():
    with pytest.raises(InferenceError, match=r'\(H, W, 3\)'):
        sliding_window_predict(Pointwise(), np.zeros((64, 64), np.uint8), tile=32)


def test_outputs_on_disk(slide, tmp_path):
    path, rgb = slide
    r = predict_slide(Pointwise(), path, tmp_path / 'out', tile=128, overlap=32, tissue=False, overlay_size=200)
    assert sorted(p.name for p in (tmp_path / 'out').iterdir()) == sorted(OUTPUTS.values())
    with tifffile.TiffFile(r['paths']['labels.tif']) as tf:
        assert tf.is_bigtiff and tf.pages[0].is_tiled and tf.pages[0].shape == (420, 600)
        assert tf.pages[0].compression == 8 and tf.pages[0].photometric == 3        # zlib, palette
        assert tf.pages[0].tags['XResolution'].value == (40000, 1)                  # 0.25 µm/px
        assert tf.pages[1].shape == (140, 200)                                      # overview: 3x max-pooled
        labels, overview = tf.pages[0].asarray(), tf.pages[1].asarray()
        assert json.loads(tf.pages[0].description)['classes'] == list(DEFAULT_CLASS_MAP.names)
    expect = sliding_window_predict(Pointwise(), rgb, tile=128, overlap=32).argmax(0)
    assert (labels == expect).mean() > 0.9999
    pooled = labels.reshape(140, 3, 200, 3).max((1, 3))
    assert (overview == pooled).all()
    ov = Image.open(r['paths']['overlay.png'])
    assert ov.width == 320 and ov.height > 140                                      # 200 px image (+ legend width)
    areas = pd.read_csv(r['paths']['class_areas.csv'], index_col=0)
    assert areas.pixels.sum() == 420 * 600 and list(areas.index) == list(DEFAULT_CLASS_MAP.names)
    assert np.allclose(areas.area_um2, areas.pixels * 0.0625)
    assert list(np.bincount(labels.ravel(), minlength=4)) == list(areas.pixels)


def test_second_run_replaces_outputs_and_leaves_no_partials(slide, tmp_path):
    path, _ = slide
    out = tmp_path / 'out'
    predict_slide(Pointwise(), path, out, tile=128, tissue=False)
    first = (out / 'labels.tif').read_bytes()
    other = Pointwise(); other.conv.bias.data = torch.tensor([0., 0., 0., 50.])    # predicts class 3 everywhere
    predict_slide(other, path, out, tile=128, tissue=False)
    assert (out / 'labels.tif').read_bytes() != first
    assert (tifffile.imread(out / 'labels.tif') == 3).all()
    assert sorted(p.name for p in out.iterdir()) == sorted(OUTPUTS.values())       # no hidden leftovers


class Interrupts(nn.Module):
    "Raises KeyboardInterrupt on its second forward, like a user pressing Ctrl-C."
    size_multiple = 1
    def __init__(self): super().__init__(); self.inner, self.n = Pointwise(), 0
    def forward(self, x):
        self.n += 1
        if self.n == 2: raise KeyboardInterrupt
        return self.inner(x)


def test_interrupt_leaves_nothing(slide, tmp_path):
    path, _ = slide
    with pytest.raises(KeyboardInterrupt):
        predict_slide(Interrupts(), path, tmp_path / 'out', tile=128, batch=1, tissue=False)
    assert not (tmp_path / 'out').exists()
    (tmp_path / 'kept').mkdir(); (tmp_path / 'kept' / 'notes.txt').write_text('mine')
    with pytest.raises(KeyboardInterrupt):
        predict_slide(Interrupts(), path, tmp_path / 'kept', tile=128, batch=1, tissue=False)
    assert [p.name for p in (tmp_path / 'kept').iterdir()] == ['notes.txt']         # the user's folder is untouched


def test_class_map_must_match_model(slide, tmp_path):
    path, _ = slide
    with pytest.raises(InferenceError, match='predicts 4 classes but the class map has 2'):
        predict_slide(Pointwise(), path, tmp_path / 'o', tile=128, class_map=ClassMap(('a', 'b'), ((0, 0, 0), (1, 1, 1))))


def test_other_class_maps_skip_quantification(slide, tmp_path):
    path, _ = slide
    cm = ClassMap(('bg', 'x', 'y', 'z'), DEFAULT_CLASS_MAP.colours)
    r = predict_slide(Pointwise(), path, tmp_path / 'o', tile=128, tissue=False, class_map=cm)
    assert r['glomeruli'] is None and set(r['paths']) == {'labels.tif', 'overlay.png', 'class_areas.csv'}


def test_errors_are_sagan_seg_errors(slide, tmp_path):
    path, _ = slide
    cases = [(dict(level=3), 'level 3 does not exist'), (dict(batch=0), 'batch 0 must be at least 1'),
             (dict(overlap=128, tile=128), 'smaller than the tile'), (dict(tile=20), r'multiple of 8 px \(e.g. 16 or 24\)'),
             (dict(level=2, tile=128), 'smaller than one 128 px tile: use a tile of at most 104 px')]
    g = Generator(GeneratorConfig(depth=3, base_width=4, attn_levels=()))            # size multiple 8
    for kw, msg in cases:
        with pytest.raises(SaganSegError, match=msg):
            predict_slide(g, path, tmp_path / 'o', **kw)
    assert not (tmp_path / 'o').exists()


def test_progress_bar_runs(slide, tmp_path, capsys):
    path, _ = slide
    predict_slide(Pointwise(), path, tmp_path / 'o', tile=128, tissue=False, progress=True)


def test_connectivity_option():
    L = np.zeros((6, 6), np.uint8)
    L[0:3, 0:3] = 1; L[3, 3] = 2; L[4:6, 4:6] = 1                                   # touching only at corners
    assert len(quantify_glomeruli(L, connectivity=2, min_glomerulus_px=1)) == 1
    q4 = quantify_glomeruli(L, connectivity=1, min_glomerulus_px=1)
    assert len(q4) == 2 and q4.podocytes.sum() == 0 and q4.attrs['unassigned']['podocyte'] == 1


def test_counter_rejects_wrong_width():
    q = GlomerulusCounter(10)
    with pytest.raises(ValueError, match='width'):
        q.update(np.zeros((3, 9), np.uint8))


def direct_quantification(lab, min_glom, min_nuc):
    "The whole-image computation, written plainly: the oracle for the streamed counter."
    s = np.ones((3, 3), bool)                                                      # 8-connected
    obj, n = ndimage.label(lab > 0, s)
    counts = np.zeros((n + 1, 2), int)
    for j, c in enumerate((2, 3)):
        nl, m = ndimage.label(lab == c, s)
        sizes = np.bincount(nl.ravel(), minlength=m + 1)
        for i in range(1, m + 1):
            if sizes[i] >= min_nuc: counts[obj[nl == i][0], j] += 1
    rows, un = [], np.zeros(2, int)
    for i in range(1, n + 1):
        m = obj == i
        if (lab[m] == 1).sum() >= min_glom:
            ys, xs = np.nonzero(m)
            rows.append([ys.min(), xs.min(), ys.max() + 1, xs.max() + 1, int(m.sum()), *counts[i]])
        else: un += counts[i]
    return sorted(rows), {'podocyte': int(un[0]), 'non-podocyte': int(un[1])}


@pytest.mark.parametrize('density', [0.05, 0.3, 0.6])
def test_streamed_counts_match_the_whole_image_on_noise(density):
    rng = np.random.default_rng(int(density * 100))
    lab = ((rng.random((90, 70)) < density) * rng.integers(1, 4, (90, 70))).astype(np.uint8)
    yy, xx = np.ogrid[:90, :70]
    lab[(yy - 40) ** 2 + (xx - 30) ** 2 < 15 ** 2] = 1                              # one real glomerulus as well
    ref, ref_un = direct_quantification(lab, 3, 2)
    for band in (1, 2, 5, 17, None):
        q = quantify_glomeruli(lab, band=band, min_glomerulus_px=3, min_nucleus_px=2)
        assert sorted(q[['y0', 'x0', 'y1', 'x1', 'area_px', 'podocytes', 'non_podocytes']].values.tolist()) == ref, band
        assert q.attrs['unassigned'] == ref_un, band


def test_torch_path_matches_numpy_path(slide, tmp_path):
    "The torch path (the one CUDA takes) run on the CPU gives the numpy path's result."
    path, rgb = slide
    m = Pointwise()
    p_np = sliding_window_predict(m, rgb, tile=128, overlap=32, batch=3)
    r_np = predict_slide(m, path, tmp_path / 'np', tile=128, overlap=32, tissue=False)
    torch.testing.assert_close(sliding_window_predict(m, rgb, tile=128, overlap=32, batch=3, numpy_on_cpu=False), p_np)
    r_t = predict_slide(m, path, tmp_path / 't', tile=128, overlap=32, tissue=False, numpy_on_cpu=False)
    assert (tifffile.imread(r_t['paths']['labels.tif']) == tifffile.imread(r_np['paths']['labels.tif'])).mean() > 0.9999


@pytest.mark.parametrize('numpy_on_cpu', [True, False])
def test_model_gets_channels_last_tiles(slide, tmp_path, numpy_on_cpu):
    "Both paths hand the model its tiles in channels_last order (the CPU speed of `predict_slide` depends on it)."
    class Layout(Pointwise):
        def forward(self, x):
            self.seen.append(x.is_contiguous(memory_format=torch.channels_last)); return super().forward(x)
    m = Layout(); m.seen = []
    predict_slide(m, slide[0], tmp_path / 'o', tile=128, overlap=32, batch=2, tissue=False, numpy_on_cpu=numpy_on_cpu)
    assert len(m.seen) > 1 and all(m.seen)
