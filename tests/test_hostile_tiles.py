"""Hostile use of `sagan-seg tiles` (issue 24), met as a user meets it: a second run into the same folder, two slides
with one stem, a kill -9 mid-write and the rerun that finishes the folder (which `train` refuses until then), slide
names that are not one visible file name, and resolutions that are not numbers or would enlarge a small slide
absurdly. Kills are injected at a named write (`SAGAN_SEG_FAULT`, see `core.fault_point`), never timed."""
import json, os, shutil
from pathlib import Path
import pytest
from PIL import Image
from test_faults_train import sagan, one_line, hidden, TINY

@pytest.fixture(scope='module')
def slide(tmp_path_factory):
    "A 384 x 256 px slide at 0.5 µm/px and its true annotation as QuPath GeoJSON."
    from sagan_seg.slides import synth_slide
    from sagan_seg.data import read_mask
    from sagan_seg.annotations import trace_mask, write_geojson
    d = tmp_path_factory.mktemp('hostile_tiles')
    truth = synth_slide(d/'kidney.tif', size=(256, 384), seed=2, mpp=0.5)
    m = read_mask(truth['mask_path'])
    objs = [dict(kind='annotation', cls=c, name='', geometry=p, measurements={}) for c in (1, 2, 3) for p in trace_mask(m == c)]
    return Path(truth['path']), write_geojson(objs, d/'kidney.geojson')

def tiles(slide, ann, out, *more, mpp='1.0', **kw):
    return sagan('tiles', slide, '--annotations', ann, '--out', out, '--mpp', mpp, '--tile', '64', *more, **kw)

def files(out):
    "{images/NAME or masks/NAME: bytes} of the tiles in `out`."
    return {f'{p.parent.name}/{p.name}': p.read_bytes() for sub in ('images', 'masks') for p in sorted((Path(out)/sub).iterdir())}

def train(data, out):
    return sagan('train', '--data', data, '--out', out, '--epochs', '1', *TINY)

def test_second_run_into_the_folder_refused_at_once(slide, tmp_path):
    "One writer per tiles folder: while another process holds it, `tiles` is refused at once, naming the holder's pid, and writes nothing."
    from sagan_seg.core import folder_lock, LOCK_NAME
    out = tmp_path/'t'
    with folder_lock(out, 'tiles folder'):
        line = one_line(tiles(*slide, out), 2, str(out), 'in use by another sagan-seg process', f'pid {os.getpid()}')
        assert sorted(p.name for p in out.iterdir()) == [LOCK_NAME], line
    assert tiles(*slide, out).returncode == 0                              # released: the same command runs

def test_two_slides_with_one_stem_refused_rerun_replaces(slide, tmp_path):
    "Tiles are named by the slide's stem: another file named kidney.tif is refused, naming both; a rerun of the same file replaces its tiles."
    a, ann = slide
    b = tmp_path/'other'/'kidney.tif'; b.parent.mkdir(); shutil.copy(a, b)
    out = tmp_path/'t'
    assert tiles(a, ann, out, '--background', '2', '--min-tissue', '0').returncode == 0
    before = files(out)
    one_line(tiles(b, ann, out), 2, str(b), str(a), "stem 'kidney'", 'rename one of the two files')
    assert files(out) == before                                            # nothing replaced
    r = tiles(a, ann, out)                                                  # the same file again, without background tiles
    assert r.returncode == 0, r.stderr
    meta = json.loads((out/'tiles.json').read_text())
    assert list(meta['slides']) == ['kidney'] and meta['slides']['kidney']['slide'] == str(a)
    stems = {t['stem'] for t in meta['slides']['kidney']['tiles']}
    assert {Path(k).stem for k in files(out)} == stems and len(before) == 2 * (len(stems) + 2)   # its 2 background tiles are gone

@pytest.mark.parametrize('where', ['mask', 'tiles.json'])
def test_kill_leaves_a_marked_folder_train_refuses_and_a_rerun_finishes(slide, tmp_path, where):
    """kill -9 while the second tile's mask, or tiles.json, is committed: no 0-byte or truncated PNG; the folder is marked
    unfinished and `train` refuses it in one line naming the folder and the fix; the same command again finishes it,
    byte for byte as an uninterrupted run, and `train` accepts it."""
    ref = tmp_path/'ref'
    assert tiles(*slide, ref).returncode == 0
    stems = [t['stem'] for t in json.loads((ref/'tiles.json').read_text())['slides']['kidney']['tiles']]
    out = tmp_path/'t'
    r = tiles(*slide, out, fault=f'{stems[1]}.png@2:SIGKILL' if where == 'mask' else 'tiles.json:SIGKILL')
    assert r.returncode == -9, (r.returncode, r.stderr)
    pngs = [p for sub in ('images', 'masks') for p in (out/sub).iterdir() if not p.name.startswith('.')]
    assert pngs and all(p.stat().st_size > 0 for p in pngs)
    for p in pngs:
        with Image.open(p) as im: im.load()                                # complete files
    assert (out/'UNFINISHED.json').is_file() and not (where == 'mask' and (out/'tiles.json').exists())
    one_line(train(out, tmp_path/'run'), 2, str(out), 'unfinished tiles folder', 'rerun the same `sagan-seg tiles` command')
    assert not (tmp_path/'run').exists()
    r = tiles(*slide, out)
    assert r.returncode == 0, r.stderr
    assert not (out/'UNFINISHED.json').exists() and hidden(out) == []
    assert files(out) == files(ref) and (out/'tiles.json').read_text() == (ref/'tiles.json').read_text()
    if where == 'mask':
        t = train(out, tmp_path/'run')
        assert t.returncode == 0 and (tmp_path/'run'/'best.pt').is_file(), t.stderr

@pytest.mark.parametrize('name', ['...tif', '.hidden.tif', 'new\nline.tif', 'back\\slash.tif', 'x' * 210 + '.tif'],
                         ids=['dotdot-stem', 'leading-dot', 'newline', 'backslash', 'too-long'])
def test_dangerous_slide_names_refused(slide, tmp_path, name):
    """A slide whose stem is not one visible file name (.., a leading dot, a control character, a separator, > 200 bytes)
    is refused in exactly one line before anything is written; files beside --out, temporary-looking ones too, survive."""
    src, ann = slide
    bad = tmp_path/'slides'/name; bad.parent.mkdir(); shutil.copy(src, bad)
    planted = [tmp_path/'.kidney_x0_y0.png.abcd1234.tmp', tmp_path/'.x.tmp', tmp_path/'notes.txt']
    for p in planted: p.write_text('mine')
    out = tmp_path/'out'
    r = tiles(bad, ann, out)
    one_line(r, 2, 'cannot name an output file or folder')
    assert r.stderr.count('\n') == 1, r.stderr                             # a newline in the name injects no second line
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == sorted(['slides', *(p.name for p in planted)])
    assert all(p.read_text() == 'mine' for p in planted)

@pytest.mark.parametrize('flag,value', [('--mpp', 'nan'), ('--mpp', '0'), ('--mpp', '-1'), ('--mpp', 'inf'), ('--mpp', '1e-300'),
                                        ('--mpp', '0.0005'), ('--slide-mpp', 'nan'), ('--slide-mpp', '0'), ('--slide-mpp', '-1')])
def test_bad_resolution_one_line(slide, tmp_path, flag, value):
    """µm/px values that are not positive numbers, or that would enlarge a 384 x 256 px slide hundreds of times per side
    (`--mpp 0.0005` once took 7 GB), give exit 2 and exactly one line naming the option and the value, at once; no --out is left."""
    out = tmp_path/'out'
    more = ['--slide-mpp', value] if flag == '--slide-mpp' else []
    r = tiles(*slide, out, *more, mpp=value if flag == '--mpp' else '1.0')
    line = one_line(r, 2, flag, value)
    assert r.stderr.count('\n') == 1 and line.startswith('sagan-seg: error: '), r.stderr
    assert not out.exists()

@pytest.mark.parametrize('flag', ['--seed', '--background'])
def test_negative_seed_or_background_one_line(slide, tmp_path, flag):
    "`--seed -1` (numpy's 'expected non-negative integer' on the old code) and `--background -1` name the option, exit 2, leave no --out."
    out = tmp_path/'out'
    more = [flag, '-1'] + (['--background', '2'] if flag == '--seed' else [])
    r = tiles(*slide, out, *more)
    one_line(r, 2, flag, '-1')
    assert not out.exists()
