"""Whole-slide reading (sagan_seg.slides): pyramidal TIFF written here, levels, plain images, bounded memory, errors."""
import json, tracemalloc
import numpy as np
import pytest
import tifffile
from PIL import Image

from sagan_seg.core import SaganSegError
from sagan_seg.synth import synth_tile
from sagan_seg.slides import open_slide, synth_slide, tissue_mask, write_pyramidal_tiff


def tiled(n_tiles, tile=256, seed=1):
    "An (n*tile)^2 RGB array repeating one synthetic tile (cheap to make, realistic to compress)."
    t = synth_tile(tile, seed=seed)[0]
    return np.ascontiguousarray(np.broadcast_to(t[None, :, None], (n_tiles, tile, n_tiles, tile, 3)).reshape(n_tiles * tile, n_tiles * tile, 3))


def peak_while_iterating(path, **kw):
    with open_slide(path) as s:
        tracemalloc.start()
        n = sum(1 for _ in s.iter_tiles(**kw))
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return n, peak


def test_memory_does_not_grow_with_slide_size(tmp_path):
    small = write_pyramidal_tiff(tmp_path / 's.tif', tiled(4), compression=None)      # 1024^2
    large = write_pyramidal_tiff(tmp_path / 'l.tif', tiled(20), compression=None)     # 5120^2 = 75 MiB as RGB
    n_s, p_s = peak_while_iterating(small, level=0, tile=256, overlap=64)
    n_l, p_l = peak_while_iterating(large, level=0, tile=256, overlap=64)
    assert n_l > 20 * n_s
    assert p_l < 1.5 * p_s + (1 << 20) and p_l < 8 << 20, (p_s, p_l)


def test_levels_and_regions(tmp_path):
    rgb = synth_tile((520, 780), seed=5)[0]
    p = write_pyramidal_tiff(tmp_path / 'x.tif', rgb, tile=128, mpp=0.25)
    with open_slide(p) as s:
        assert s.level_count == 4 and s.level_dimensions[-1] == (97, 65)
        assert abs(s.mpp - 0.25) < 1e-9
        assert s.best_level(1) == 0 and s.best_level(2.5) == 1 and s.best_level(100) == 3
        lv2 = s.read_region(2, 0, 0, *s.level_dimensions[2])
        ref = rgb[:520, :780].reshape(130, 4, 195, 4, 3).astype(float).mean((1, 3))    # oracle: 4x4 block mean
        assert np.abs(lv2.astype(float) - ref).max() <= 1.0
        th = s.thumbnail(100)
        assert max(th.shape[:2]) == 100 and th.shape[2] == 3
        with pytest.raises(SaganSegError, match='region size must be positive'): s.read_region(0, 0, 0, 0, 5)
        with pytest.raises(SaganSegError, match='level -1 does not exist'): s.read_region(-1, 0, 0, 5, 5)
        tiles = list(s.iter_tiles(level=1, tile=128, overlap=16))
        cover = np.zeros((260, 390), int)
        for t in tiles:
            assert t.image.shape == (128, 128, 3) and t.level == 1
            cover[t.y:t.y + 128, t.x:t.x + 128] += 1
        assert cover.min() >= 1


def test_plain_images_as_slides(tmp_path):
    rgb = synth_tile(100, seed=2)[0]
    Image.fromarray(rgb).save(tmp_path / 'a.png', dpi=(50800, 50800))                  # 0.5 um/px
    with open_slide(tmp_path / 'a.png') as s:
        assert s.level_count == 1 and s.level_dimensions == [(100, 100)]
        assert abs(s.mpp - 0.5) < 1e-3
        out = s.read_region(0, 90, -5, 20, 10)                                          # partly outside: white
        assert (out[5:, :10] == rgb[:5, 90:]).all() and (out[:5] == 255).all() and (out[:, 10:] == 255).all()
    tifffile.imwrite(tmp_path / 'strip16.tif', rgb.astype(np.uint16) * 257, photometric='rgb', resolution=(20000, 20000), resolutionunit='CENTIMETER')
    with open_slide(tmp_path / 'strip16.tif') as s:                                     # untiled 16-bit TIFF: plain image
        assert type(s).__name__ == 'ImageSlide' and (s.read_region(0, 0, 0, 100, 100) == rgb).all()
        assert abs(s.mpp - 0.5) < 1e-9


def test_bad_slides(tmp_path):
    with pytest.raises(SaganSegError, match='slide file not found'): open_slide(tmp_path / 'none.svs')
    (tmp_path / 'junk.svs').write_bytes(b'\x00' * 1000)
    with pytest.raises(SaganSegError, match='junk.svs: cannot read image'): open_slide(tmp_path / 'junk.svs')
    with pytest.raises(SaganSegError, match='multiple of 16'): write_pyramidal_tiff(tmp_path / 'a.tif', np.zeros((64, 64, 3), np.uint8), tile=100)
    with pytest.raises(SaganSegError, match='RGB uint8'): write_pyramidal_tiff(tmp_path / 'a.tif', np.zeros((64, 64), np.uint8))
    with pytest.raises(SaganSegError, match='overlap'):
        with open_slide(write_pyramidal_tiff(tmp_path / 'b.tif', np.zeros((64, 64, 3), np.uint8), tile=32)) as s: s.tile_grid(0, 32, 40)
    with pytest.raises(SaganSegError, match='needs an RGB image'): tissue_mask(np.zeros((8, 8)))


def test_synth_slide_truth(tmp_path):
    a = synth_slide(tmp_path / 'a.tif', size=512, seed=3)
    b = synth_slide(tmp_path / 'b.tif', size=512, seed=3)
    assert a['glomeruli'] == b['glomeruli'] and a['totals'] == b['totals']            # deterministic per seed
    assert json.loads((tmp_path / 'a.json').read_text())['glomeruli'] == a['glomeruli']
    mask = np.asarray(Image.open(a['mask_path']))
    assert mask.shape == (512, 512)
    with open_slide(a['path']) as s:
        assert s.level_dimensions[0] == (512, 512) and s.level_count == 2
        tm = tissue_mask(s, max_size=128)
        assert 0.05 < tm.mean() < 0.95                                                 # tissue and glass both present
    # every glomerulus lies whole inside the slide, so the truth counts every nucleus of it
    for g in a['glomeruli']:
        assert g['radius'] * 1.25 < g['cx'] < 512 - g['radius'] * 1.25 and g['podocytes'] + g['non_podocytes'] > 0
    with pytest.raises(SaganSegError, match='at least 256x256'): synth_slide(tmp_path / 'c.tif', size=100)
