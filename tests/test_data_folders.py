"""Bad-input cases of the dataset folder readers (sagan_seg.data): every problem is found, named with its file."""
import shutil
import numpy as np
import pytest
import tifffile
import torch
from PIL import Image

from sagan_seg.core import DEFAULT_CLASS_MAP, ClassMap, SaganSegError
from sagan_seg.synth import synth_tile, write_synthetic_dataset
from sagan_seg.data import DatasetError, SegFolder, read_class_map, read_image, read_mask, validate_folder


@pytest.fixture(scope='module')
def good(tmp_path_factory):
    return write_synthetic_dataset(tmp_path_factory.mktemp('ds') / 'good', 4, size=64, seed=0)


@pytest.fixture
def ds(good, tmp_path):
    return shutil.copytree(good, tmp_path / 'ds')


def one_problem(root, *needles, class_map=None):
    probs = validate_folder(root, class_map)
    assert len(probs) == 1, probs
    for n in needles: assert n in probs[0], probs[0]
    with pytest.raises(DatasetError) as e: SegFolder(root, crop=32, class_map=class_map)
    assert e.value.problems == probs and isinstance(e.value, SaganSegError)
    return probs[0]


def test_good_folder(good):
    assert validate_folder(good) == []
    x, y = SegFolder(good, crop=32)[0]
    assert x.shape == (3, 32, 32) and y.shape == (32, 32)


def test_missing_and_empty_folders(tmp_path):
    assert validate_folder(tmp_path / 'nope') == [f'{tmp_path / "nope"}: dataset folder not found']
    (tmp_path / 'images').mkdir()
    probs = validate_folder(tmp_path)
    assert probs == [f'{tmp_path / "masks"}: folder missing (expected images/ and masks/)']
    (tmp_path / 'masks').mkdir()
    (tmp_path / 'images' / 'notes.txt').write_text('ignored')
    assert one_problem(tmp_path, 'no images')


def test_corrupt_and_truncated_image(ds):
    (ds / 'images/tile_00000.png').write_bytes(b'\x89PNG not really')
    one_problem(ds, 'tile_00000.png', 'cannot read image')
    data = (ds / 'images/tile_00001.png').read_bytes()
    (ds / 'images/tile_00000.png').write_bytes(data[:len(data) // 2])                     # truncated PNG
    one_problem(ds, 'tile_00000.png', 'cannot read image')


def test_image_without_mask_and_mask_without_image(ds):
    (ds / 'masks/tile_00001.png').unlink()
    (ds / 'images/tile_00002.png').unlink()
    probs = validate_folder(ds)
    assert len(probs) == 2
    assert any('images/tile_00001.png: no mask' in p for p in probs)
    assert any('masks/tile_00002.png: mask without an image' in p for p in probs)


def test_size_mismatch(ds):
    Image.open(ds / 'masks/tile_00003.png').crop((0, 0, 60, 64)).save(ds / 'masks/tile_00003.png')
    one_problem(ds, 'tile_00003.png', 'image is 64x64 px but its mask tile_00003.png is 60x64')


def test_label_outside_class_map(ds):
    m = np.array(Image.open(ds / 'masks/tile_00000.png')); m[0, 0] = 7; m[1, 1] = 9
    Image.fromarray(m, mode='L').save(ds / 'masks/tile_00000.png')
    one_problem(ds, 'masks/tile_00000.png', 'label values [7, 9] outside the class map (0..3)')
    two = ClassMap(('bg', 'fg'), ((0, 0, 0), (255, 255, 255)))                             # a smaller map: 2, 3 invalid
    probs = validate_folder(ds, two)
    assert len(probs) >= 3 and all('outside the class map (0..1)' in p for p in probs)


def test_colour_mask_and_unknown_colour(ds):
    idx = {}
    for i in range(4):                                                                     # rewrite masks as colour masks
        idx[i] = np.asarray(Image.open(ds / f'masks/tile_{i:05d}.png'))
        Image.fromarray(DEFAULT_CLASS_MAP.colorize(idx[i])).save(ds / f'masks/tile_{i:05d}.png')
    assert validate_folder(ds) == []
    assert (read_mask(ds / 'masks/tile_00000.png') == idx[0]).all()
    c = np.array(Image.open(ds / 'masks/tile_00002.png')); c[5, 5] = (1, 2, 3); c[6, 6] = (1, 2, 3)
    Image.fromarray(c).save(ds / 'masks/tile_00002.png')
    one_problem(ds, 'masks/tile_00002.png', '2 pixels have colours not in the class map: (1,2,3) x2')


def test_colour_mask_round_trip(tmp_path):
    mask = synth_tile(64, seed=3, n_glomeruli=1)[1]
    Image.fromarray(DEFAULT_CLASS_MAP.colorize(mask)).save(tmp_path / 'c.png')
    Image.fromarray(np.dstack([DEFAULT_CLASS_MAP.colorize(mask), np.full(mask.shape, 255, np.uint8)])).save(tmp_path / 'ca.png')
    Image.fromarray(mask.astype(np.uint16)).save(tmp_path / 'i16.png')                    # 16-bit index mask
    tifffile.imwrite(tmp_path / 'i.tif', mask)
    for f in ('c.png', 'ca.png', 'i16.png', 'i.tif'): assert (read_mask(tmp_path / f) == mask).all(), f


def test_jpeg_mask_rejected(ds):
    (ds / 'masks/tile_00001.png').unlink()
    Image.open(ds / 'images/tile_00001.png').convert('L').save(ds / 'masks/tile_00001.jpg')
    one_problem(ds, 'masks/tile_00001.jpg', 'masks must be PNG or TIFF')


def test_duplicate_stems(ds):
    Image.open(ds / 'images/tile_00000.png').save(ds / 'images/tile_00000.jpg')
    one_problem(ds, 'two images share the stem', 'tile_00000')


def test_all_problems_at_once(ds):
    (ds / 'images/tile_00000.png').write_bytes(b'junk')
    (ds / 'masks/tile_00001.png').unlink()
    Image.open(ds / 'masks/tile_00003.png').crop((0, 0, 32, 32)).save(ds / 'masks/tile_00003.png')
    (ds / 'classes.csv').write_text('index,name,r,g,b\n0,bg,0,0,0\n1,glom,60,180,75\n2,pod,230,25,75\n3,np,0,130,200\n')
    with pytest.raises(DatasetError) as e: SegFolder(ds)
    assert len(e.value.problems) == 3
    text = str(e.value)
    for needle in ('tile_00000.png: cannot read image', 'tile_00001.png: no mask', 'tile_00003.png: image is 64x64'):
        assert needle in text


def test_bad_class_map_in_folder(ds):
    (ds / 'classes.csv').write_text('idx,name\n0,bg\n')
    one_problem(ds, 'classes.csv', 'header index,name,r,g,b')
    (ds / 'classes.csv').write_text('index,name,r,g,b\n0,bg,0,0,0\n1,bg,0,0,x\n1,c,1,1,1,1\n')
    with pytest.raises(DatasetError) as e: read_class_map(ds / 'classes.csv')
    assert any('line 3: index and r,g,b must be integers' in p for p in e.value.problems)
    assert any('line 4: expected 5 fields' in p for p in e.value.problems)
    with pytest.raises(DatasetError, match='class map file not found'): read_class_map(ds / 'nope.csv')


def test_image_formats(tmp_path):
    rgb = synth_tile(48, seed=1)[0]
    grey = rgb.mean(-1).astype(np.uint8)
    Image.fromarray(grey).save(tmp_path / 'g.png')
    assert (read_image(tmp_path / 'g.png') == grey[..., None]).all()
    g16 = grey.astype(np.uint16) * 257                                                     # 16 bit: exact 8-bit values back
    Image.fromarray(g16).save(tmp_path / 'g16.png')
    assert (read_image(tmp_path / 'g16.png')[..., 0] == grey).all()
    tifffile.imwrite(tmp_path / 'c16.tif', rgb.astype(np.uint16) * 257, photometric='rgb')                   # 16-bit RGB TIFF
    assert (read_image(tmp_path / 'c16.tif') == rgb).all()
    rgba = np.dstack([rgb, np.zeros(rgb.shape[:2], np.uint8)]); rgba[:24, :, 3] = 255
    Image.fromarray(rgba).save(tmp_path / 'a.png')                                          # transparent = white
    out = read_image(tmp_path / 'a.png')
    assert (out[:24] == rgb[:24]).all() and (out[24:] == 255).all()
    Image.fromarray(rgb).save(tmp_path / 'j.jpg', quality=95)
    assert np.abs(read_image(tmp_path / 'j.jpg').astype(int) - rgb).mean() < 6
    tifffile.imwrite(tmp_path / 'f.tif', rgb.astype(np.float32) / 255, photometric='rgb')
    with pytest.raises(SaganSegError, match='f.tif: unsupported pixel type float32'): read_image(tmp_path / 'f.tif')


def test_small_images_pad_or_reject(good):
    sf = SegFolder(good, crop=100)                                                          # 64 px tiles, mirrored to 100
    x, y = sf[0]
    assert x.shape == (3, 100, 100) and y.shape == (100, 100)
    with pytest.raises(DatasetError, match='64x64 px is smaller than the crop 100x100') as e: SegFolder(good, crop=100, pad='error')
    assert len(e.value.problems) == 4
    with pytest.raises(SaganSegError, match="mode must be"): SegFolder(good, mode='center')


def test_dataloader_batches_and_determinism(good):
    sf = SegFolder(good, crop=32, crops_per_image=3, fg_bias=0.5)
    assert len(sf) == 12
    torch.manual_seed(0); a = next(iter(torch.utils.data.DataLoader(sf, batch_size=4, shuffle=True)))
    torch.manual_seed(0); b = next(iter(torch.utils.data.DataLoader(sf, batch_size=4, shuffle=True)))
    assert a[0].shape == (4, 3, 32, 32) and a[1].shape == (4, 32, 32) and a[1].dtype == torch.int64
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    nc = SegFolder(good, crop=32, cache=False)
    assert nc[0][0].shape == (3, 32, 32)
    with pytest.raises(SaganSegError, match='class weight method'): sf.class_weights('log')


def test_write_synthetic_dataset_errors(tmp_path):
    with pytest.raises(SaganSegError, match='n must be at least 1'): write_synthetic_dataset(tmp_path / 'x', 0)
    (tmp_path / 'file').write_text('x')
    with pytest.raises(SaganSegError, match='not a folder'): write_synthetic_dataset(tmp_path / 'file', 1)
    with pytest.raises(SaganSegError, match='at least 16'): synth_tile(8)
