"""Hostile annotation files met through `sagan-seg tiles`, as a user meets them: JSON nested past Python's recursion
limit, `properties` that is not an object, a 401-digit coordinate, an XML encoding Python does not know, an id with
a newline that would forge a second error line, a class map too large for 8-bit masks, a file over the size limit —
each one line naming the file, exit code 2, and no empty `--out` left behind — and files saved as UTF-16 or UTF-8
with a byte-order mark, which cut exactly the tiles of their plain UTF-8 twins."""
import json
from pathlib import Path
import numpy as np
import pytest
from PIL import Image
from test_faults_train import sagan, one_line
from sagan_seg.slides import synth_slide

@pytest.fixture(scope='module')
def slide(tmp_path_factory):
    return synth_slide(tmp_path_factory.mktemp('hostile')/'s.tif', size=(256, 256), seed=0)['path']

SQUARE = [[10, 10], [60, 10], [60, 60], [10, 60], [10, 10]]
def feature(**kw):
    return {'type': 'Feature', 'geometry': {'type': 'Polygon', 'coordinates': [SQUARE]},
            'properties': {'classification': {'name': 'glomeruli'}}, **kw}

def xml(enc='UTF-8', layer_id='1', pts=SQUARE[:-1]):
    vs = ''.join(f'<Vertex X="{x}" Y="{y}"/>' for x, y in pts)
    return (f'<?xml version="1.0" encoding="{enc}"?>\n<Annotations><Annotation Id="{layer_id}" Name="glomeruli"><Regions>'
            f'<Region Id="1"><Vertices>{vs}</Vertices></Region></Regions></Annotation></Annotations>\n')

FORGED = 'x\nsagan-seg: error: forged'
CASES = {  # name: (file name, text, words the one line must hold)
    'deep_nesting': ('deep.geojson', '[' * 100_000 + ']' * 100_000, ['nested too deeply']),
    'properties_not_object': ('props.geojson', json.dumps([feature(properties=[1, 2])]), ['feature 0', 'properties is not a JSON object']),
    'int_401_digits': ('big.geojson', json.dumps([feature()]).replace('[10, 10]', '[' + '9' * 401 + ', 10]', 1),
                       ['feature 0', 'coordinates must be finite']),
    'unknown_xml_encoding': ('enc.xml', xml('no-such-encoding'), ['cannot decode the XML file', 'no-such-encoding']),
    'newline_in_geojson_id': ('nl.geojson', json.dumps([feature(id=FORGED, geometry=None)]), [r"(id 'x\nsagan-seg: error: forged')"]),
    'newline_in_xml_id': ('nl.xml', xml(layer_id='x&#10;sagan-seg: error: forged', pts=SQUARE[:2]),
                          [r"(Id 'x\nsagan-seg: error: forged'), region Id 1: empty polygon"]),
}

def refused(r, f, out, *words):
    "Exit 2, exactly one stderr line, `sagan-seg: error:` naming the file; the --out folder the command made is gone."
    line = one_line(r, 2, str(f), *words)
    assert r.stderr.splitlines() == [line] and line.startswith('sagan-seg: error: '), r.stderr
    assert not Path(out).exists()

@pytest.mark.parametrize('case', CASES)
def test_hostile_file_one_line(slide, tmp_path, case):
    name, text, words = CASES[case]
    f = tmp_path/name; f.write_text(text)
    r = sagan('tiles', slide, '--annotations', f, '--out', tmp_path/'out', '--tile', '64')
    refused(r, f, tmp_path/'out', *words)

def test_class_map_over_256_classes(slide, tmp_path):
    "Labels are uint8: a class map of 300 classes is refused before any tile is cut."
    cm = tmp_path/'classes.csv'
    cm.write_text('index,name,r,g,b\n' + ''.join(f'{i},{"glomeruli" if i == 1 else f"c{i}"},{i % 256},{i // 256},7\n' for i in range(300)))
    f = tmp_path/'a.geojson'; f.write_text(json.dumps([feature()]))
    r = sagan('tiles', slide, '--annotations', f, '--classes', cm, '--out', tmp_path/'out', '--tile', '64')
    refused(r, f, tmp_path/'out', 'the class map has 300 classes', '256')

def test_file_over_size_limit(slide, tmp_path):
    "A file over SAGAN_SEG_MAX_ANNOTATION_MB is refused before it is read, naming its size, the limit and the variable."
    f = tmp_path/'a.geojson'; f.write_text(json.dumps([feature()] * 50))
    r = sagan('tiles', slide, '--annotations', f, '--out', tmp_path/'out', '--tile', '64', SAGAN_SEG_MAX_ANNOTATION_MB='0.001')
    refused(r, f, tmp_path/'out', 'over the 0.001 MB limit', 'SAGAN_SEG_MAX_ANNOTATION_MB')

def tiles_of(out):
    return {p.name: np.asarray(Image.open(p)) for p in sorted((Path(out)/'masks').iterdir())}

@pytest.mark.parametrize('ext', ['geojson', 'xml'])
def test_byte_order_marks_read_like_utf8(slide, tmp_path, ext):
    "UTF-16 (LE and BE, with a BOM) and UTF-8 with a BOM: the same tiles as the plain UTF-8 file."
    text = json.dumps([feature()]) if ext == 'geojson' else xml()
    plain = tmp_path/f'plain.{ext}'; plain.write_text(text, encoding='utf-8')
    assert sagan('tiles', slide, '--annotations', plain, '--out', tmp_path/'plain', '--tile', '64').returncode == 0
    want = tiles_of(tmp_path/'plain')
    assert want
    for enc, bom in (('utf-8', b'\xef\xbb\xbf'), ('utf-16-le', b'\xff\xfe'), ('utf-16-be', b'\xfe\xff')):
        f = tmp_path/f'{enc}.{ext}'
        f.write_bytes(bom + (text if enc == 'utf-8' else text.replace('encoding="UTF-8"', 'encoding="UTF-16"')).encode(enc))
        r = sagan('tiles', slide, '--annotations', f, '--out', tmp_path/enc, '--tile', '64')
        assert r.returncode == 0, (enc, r.stderr)
        got = tiles_of(tmp_path/enc)
        assert got.keys() == want.keys() and all((got[k] == want[k]).all() for k in want), enc
