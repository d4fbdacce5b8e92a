"""Real slides in and out, end to end: a generated slide's true annotation, written as ImageScope XML and as
QuPath GeoJSON, goes `tiles` -> `train` -> `predict` through the command line, and the exports load back with the same masks."""
import json
from pathlib import Path
import numpy as np
import pytest, tifffile, torch
from sagan_seg.cli import run
from sagan_seg.data import read_mask
from sagan_seg.slides import synth_slide, write_pyramidal_tiff, open_slide
from sagan_seg.annotations import trace_mask, write_geojson, write_imagescope_xml, read_annotations, assign_classes, rasterize
from sagan_seg.core import DEFAULT_CLASS_MAP

@pytest.fixture(autouse=True)
def one_thread():
    n = torch.get_num_threads(); torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)

def cli(*args):
    code = run([str(a) for a in args])
    assert code == 0, (code, args)

def iou(a, b, c): return ((a == c) & (b == c)).sum() / max(((a == c) | (b == c)).sum(), 1)

@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    "A generated slide, its true annotation as ImageScope XML and QuPath GeoJSON, tiles cut from each, a model trained a few steps."
    tmp_path = tmp_path_factory.mktemp('e2e')
    n = torch.get_num_threads(); torch.set_num_threads(1)
    truth = synth_slide(tmp_path/'kidney.tif', size=(512, 768), seed=2, mpp=0.5)
    mask = read_mask(truth['mask_path'])
    names = {1: 'Glomerulus', 2: 'Podocyte', 3: 'Other nucleus'}                 # the annotator's names, not ours
    objs = [dict(kind='annotation', cls=c, name=names[c], geometry=p, measurements={}) for c in (1, 2, 3) for p in trace_mask(mask == c)]
    cm = type(DEFAULT_CLASS_MAP)(('background', *names.values()), DEFAULT_CLASS_MAP.colours)
    xml, gj = write_imagescope_xml(objs, tmp_path/'kidney.xml', cm), write_geojson(objs, tmp_path/'kidney.geojson', cm)
    mapping = ['Glomerulus=glomeruli', 'Podocyte=podocyte', 'Other nucleus=non-podocyte']
    for f in (xml, gj):                                                           # the annotation reads back to the true mask
        assert (rasterize(assign_classes(read_annotations(f), mapping=mapping), mask.shape) == mask).all()
    # tiles at 1 µm/px (level 1 of this 0.5 µm/px slide), from XML and from GeoJSON: the same tiles
    for f, d in ((xml, 'tiles'), (gj, 'tiles_gj')):
        cli('tiles', tmp_path/'kidney.tif', '--annotations', f, '--out', tmp_path/d, '--mpp', '1.0', '--tile', '64',
            '--background', '2', '--map', *mapping)
    a, b = sorted((tmp_path/'tiles'/'masks').iterdir()), sorted((tmp_path/'tiles_gj'/'masks').iterdir())
    assert [p.name for p in a] == [p.name for p in b] and len(a) >= 4
    assert all((read_mask(p) == read_mask(q)).all() for p, q in zip(a, b))
    assert json.loads((tmp_path/'tiles'/'tiles.json').read_text())['mpp'] == 1.0
    # train a few steps: the checkpoint records the tiles' µm/px
    cli('train', '--data', tmp_path/'tiles', '--out', tmp_path/'run', '--epochs', '1', '--steps-per-epoch', '3', '--crop', '32',
        '--batch-size', '2', '--width', '8', '--depth', '2', '--disc-width', '8', '--no-progress', '--no-calibrate')
    assert torch.load(tmp_path/'run'/'best.pt', weights_only=True)['config']['mpp'] == 1.0
    torch.set_num_threads(n)
    return tmp_path

def test_tiles_train_predict_round_trip(trained, capsys):
    "predict reads the slide at level 1 (the model's 1 µm/px); the exports, in level-0 coordinates, rasterise back to the labels."
    tmp_path = trained
    capsys.readouterr()
    cli('predict', '--checkpoint', tmp_path/'run', tmp_path/'kidney.tif', '--out', tmp_path/'pred', '--tile', '64',
        '--overlap', '16', '--no-progress')
    assert 'level 1' in capsys.readouterr().out
    lab = tifffile.imread(tmp_path/'pred'/'labels.tif', key=0)
    assert lab.shape == (256, 384)
    for f in ('predictions.geojson', 'predictions.xml'):                         # exports rasterise back to the labels
        back = rasterize(assign_classes(read_annotations(tmp_path/'pred'/f)), lab.shape, downsample=2)
        assert all(iou(back, lab, c) >= 0.99 for c in range(1, 4) if (lab == c).any() or (back == c).any())
        assert (back == lab).all()
    done = json.loads((tmp_path/'pred'/'done.json').read_text())
    assert (done['level'], done['downsample'], done['resampled']) == (1, 2.0, False)

def test_predict_refuses_unknown_resolution(trained, tmp_path, capsys):
    "The checkpoint says 1 µm/px and the slide says nothing: refused, the fix named; --mpp makes it run, resampled."
    rgb = np.full((256, 256, 3), 230, np.uint8); rgb[64:192, 64:192] = (180, 90, 150)
    write_pyramidal_tiff(tmp_path/'bare.tif', rgb)                                # no resolution tags, one level
    with open_slide(tmp_path/'bare.tif') as s: assert s.mpp is None
    capsys.readouterr()
    assert run(['predict', '--checkpoint', str(trained/'run'), str(tmp_path/'bare.tif'), '--out', str(tmp_path/'p'), '--no-progress']) == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and "does not say its µm/px" in err and '--slide-mpp' in err, err
    cli('predict', '--checkpoint', trained/'run', tmp_path/'bare.tif', '--out', tmp_path/'p', '--no-progress', '--slide-mpp', '0.5',
        '--tile', '64', '--overlap', '16')                                         # 0.5 -> 1 µm/px: no such level
    done = json.loads((tmp_path/'p'/'done.json').read_text())
    assert (done['downsample'], done['resampled'], done['mpp']) == (2.0, True, 1.0)
    assert tifffile.imread(tmp_path/'p'/'labels.tif', key=0).shape == (128, 128)

def test_tiles_errors_are_one_line(tmp_path, capsys):
    "Malformed or unmatched annotations: exit code 2 and one line naming the file and the region."
    truth = synth_slide(tmp_path/'s.tif', size=(256, 256), seed=0)
    cases = [('<Annotations><Annotation Id="1"><Regions><Region Id="4"><Vertices><Vertex X="1" Y="2"/>', 'bad.xml', 'not a well-formed XML file'),
             ('<Annotations><Annotation Id="1" Name="g"><Regions><Region Id="4"><Vertices><Vertex X="0" Y="0"/><Vertex X="9" Y="9"/>'
              '<Vertex X="9" Y="0"/><Vertex X="0" Y="9"/></Vertices></Region></Regions></Annotation></Annotations>', 'bow.xml',
              "layer 'g' (Id 1), region Id 4: invalid polygon (Self-intersection"),
             (json.dumps([{'type': 'Feature', 'geometry': {'type': 'Polygon', 'coordinates': [[[0, 0], [900, 0], [900, 9], [0, 0]]]},
                           'properties': {'classification': {'name': 'glomeruli'}}}]), 'far.geojson', 'feature 0, class \'glomeruli\': coordinates x 0..900'),
             (json.dumps([{'type': 'Feature', 'geometry': {'type': 'Polygon', 'coordinates': [[[0, 0], [9, 0], [9, 9], [0, 0]]]},
                           'properties': {'classification': {'name': 'Tumor'}}}]), 'tumor.geojson', "no class for 'Tumor'")]
    for text, name, msg in cases:
        (tmp_path/name).write_text(text)
        assert run(['tiles', str(tmp_path/'s.tif'), '--annotations', str(tmp_path/name), '--out', str(tmp_path/'t')]) == 2
        err = capsys.readouterr().err
        assert err.count('\n') == 1 and name in err and msg in err, err
