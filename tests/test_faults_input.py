"""Hostile and odd inputs to `sagan-seg predict` and `train`, met as a user meets them: a decompression bomb,
blank and greyscale images, a 16-bit image holding 8-bit values, a folder or a truncated file as input, a data folder
with several problems, a full disk and a second writer in predict's output folder."""
import json, signal, struct, zlib
from pathlib import Path
import numpy as np
import pytest
import tifffile
import torch
from PIL import Image
from test_faults_train import sagan, start, wait_stopped, one_line, hidden

@pytest.fixture(scope='module')
def ckpt(tmp_path_factory):
    "A tiny generator's checkpoint (untrained: these tests are about input handling, not accuracy)."
    from sagan_seg.generator import Generator, GeneratorConfig
    from sagan_seg.checkpoints import save_checkpoint
    from sagan_seg.core import config_to_dict, CLASS_NAMES
    torch.manual_seed(0)
    g = Generator(GeneratorConfig(depth=3, base_width=8))
    return save_checkpoint(tmp_path_factory.mktemp('ck')/'best.pt', {'config': {'generator': config_to_dict(g.cfg)},
                           'generator': g.state_dict(), 'epoch': 1, 'class_names': list(CLASS_NAMES)})

def tissue(h=128, w=128):
    "An RGB uint8 picture with pink 'tissue' on white glass, values within 0..235."
    rng = np.random.default_rng(0)
    a = np.full((h, w, 3), 235, np.uint8)
    a[24:104, 24:104] = (200, 90, 160)
    a = np.clip(a.astype(int) - rng.integers(0, 30, a.shape), 0, 235).astype(np.uint8)
    a[0, 0] = 0                                                            # the full span 0..235
    return a

def predict(ckpt, img, out, *more):
    return sagan('predict', '--checkpoint', ckpt, img, '--out', out, '--tile', '64', '--overlap', '16', '--no-progress', *more)

def labels(out): return tifffile.imread(Path(out)/'labels.tif')

def test_decompression_bomb_refused_before_decoding(ckpt, tmp_path):
    "A decompression bomb: a 100000 x 100000 PNG (1 MB of header) is refused from its size alone, under the limit --max-pixels sets."
    chunk = lambda t, d: struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d))
    bomb = tmp_path/'bomb.png'
    bomb.write_bytes(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', 100_000, 100_000, 1, 0, 0, 0, 0))
                     + chunk(b'IDAT', zlib.compress(b'\x00' * 64)) + chunk(b'IEND', b''))
    one_line(predict(ckpt, bomb, tmp_path/'o1', '--max-pixels', '1e9'), 2, 'bomb.png', '100000 x 100000 px', 'more than the 1000-megapixel limit',
             'pyramidal TIFF', '--max-pixels')
    assert not (tmp_path/'o1').exists()                                    # a failed command leaves no empty folder

def test_blank_greyscale_and_16_bit_images(ckpt, tmp_path):
    """Blank and greyscale images: an all-white PNG and a 1-channel 16-bit TIFF segment without a crash (no tissue on blank glass, the
    greyscale tissue found). A 16-bit RGB TIFF whose values span 0..235 reads as those 8-bit values, so it
    segments exactly as the same picture saved as 8-bit PNG. One `predict` over the four (one output folder each)."""
    Image.fromarray(np.full((128, 128, 3), 255, np.uint8)).save(tmp_path/'white.png')
    tifffile.imwrite(tmp_path/'grey16.tif', tissue().mean(-1).astype(np.uint16) * 257)   # greyscale, full 16-bit range
    rgb = tissue(); assert rgb.min() == 0 and rgb.max() == 235
    tifffile.imwrite(tmp_path/'c16.tif', rgb.astype(np.uint16), photometric='rgb')
    Image.fromarray(rgb).save(tmp_path/'c8.png')
    out = tmp_path/'out'
    r = sagan('predict', '--checkpoint', ckpt, *(tmp_path/f for f in ('white.png', 'grey16.tif', 'c16.tif', 'c8.png')),
              '--out', out, '--tile', '64', '--overlap', '16', '--no-progress')
    assert r.returncode == 0 and 'Traceback' not in r.stderr, r.stderr
    done = {k: json.loads((out/k/'done.json').read_text())['stats'] for k in ('white', 'grey16', 'c16', 'c8')}
    assert done['white']['tiles_predicted'] == 0 and (labels(out/'white') == 0).all()
    assert done['grey16']['tiles_predicted'] > 0                           # the dark square is found as tissue
    assert done['c16']['tiles_predicted'] == done['c8']['tiles_predicted'] > 0
    assert (labels(out/'c16') == labels(out/'c8')).all()

def test_folder_and_truncated_inputs(ckpt, tmp_path):
    "Unreadable input: a folder as input, and a truncated slide, each get one clear line; no reader warning leaks out."
    one_line(predict(ckpt, tmp_path, tmp_path/'o'), 2, 'is a folder')
    from sagan_seg.slides import write_pyramidal_tiff
    write_pyramidal_tiff(tmp_path/'s.tif', tissue(512, 512), tile=256)
    b = (tmp_path/'s.tif').read_bytes(); (tmp_path/'cut.svs').write_bytes(b[:len(b) // 3])
    r = predict(ckpt, tmp_path/'cut.svs', tmp_path/'o')
    one_line(r, 2, 'cut.svs', 'truncated or corrupt')
    assert 'Warning' not in r.stderr and 'EXIF' not in r.stderr and not (tmp_path/'o').exists()

def test_bad_data_folder_all_problems_at_once(tmp_path):
    """Bad training data: a training folder with an image over the pixel limit, a truncated image and a custom-colour mask
    without classes.csv: every problem listed, the classes.csv hint given, nothing left behind."""
    from sagan_seg.synth import write_synthetic_dataset
    ds = write_synthetic_dataset(tmp_path/'ds', n=5, size=64, seed=2)
    Image.fromarray(tissue(96, 96)).save(ds/'images'/'tile_00000.png')         # bigger than the limit below
    Image.fromarray(np.zeros((96, 96), np.uint8)).save(ds/'masks'/'tile_00000.png')
    p = ds/'images'/'tile_00001.png'; p.write_bytes(p.read_bytes()[:200])      # truncated
    Image.fromarray(np.full((64, 64, 3), (200, 100, 0), np.uint8)).save(ds/'masks'/'tile_00002.png')   # custom colour
    (ds/'classes.csv').unlink()                                                # ... and no class map
    r = sagan('train', '--data', ds, '--out', tmp_path/'new'/'run', '--epochs', '1', '--no-progress', SAGAN_SEG_MAX_PIXELS='5000')
    assert r.returncode == 2 and 'Traceback' not in r.stderr, r.stderr
    for w in ('tile_00000.png: 96 x 96 px', 'pyramidal TIFF', 'tile_00001.png: cannot read image: the file is truncated or corrupt',
              'colours not in the class map', 'a classes.csv (index,name,r,g,b, one line per class) naming your mask colours would fix this'):
        assert w in r.stderr, (w, r.stderr)
    assert not (tmp_path/'new').exists()

def test_predict_lock_and_disk_full(ckpt, tmp_path):
    "A busy output folder, a signal, a full disk: a second predict into a busy folder is refused; SIGTERM and a full disk before the commit leave no partial files."
    Image.fromarray(tissue()).save(tmp_path/'t.png')
    out = tmp_path/'out'
    p = start('predict', '--checkpoint', ckpt, tmp_path/'t.png', '--out', out, '--tile', '64', '--overlap', '16', '--no-progress', fault='labels.tif:SIGSTOP')
    try:
        wait_stopped(p)                                                        # outputs written, not yet committed
        one_line(predict(ckpt, tmp_path/'t.png', out), 2, out, f'pid {p.pid}', 'in use')
        p.send_signal(signal.SIGTERM); p.send_signal(signal.SIGCONT)
        _, err = p.communicate(timeout=120)
    finally:
        if p.poll() is None: p.kill(); p.wait()
    one_line((p.returncode, err), 143, 'interrupted by SIGTERM')
    assert not out.exists()                                    # partial outputs removed, then the folder it had made
    out.mkdir(); (out/'keep.txt').write_text('mine')                       # a folder the user made stays, with its files
    one_line(sagan('predict', '--checkpoint', ckpt, tmp_path/'t.png', '--out', out, '--tile', '64', '--overlap', '16', '--no-progress',
                   fault='overlay.png:ENOSPC'), 2, out, 'No space left on device')
    assert hidden(out) == [] and sorted(x.name for x in out.iterdir()) == ['.sagan-seg.lock', 'keep.txt']
