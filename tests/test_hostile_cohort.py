"""Cohort `sagan-seg predict` met as a hostile user meets it (issue 24): slide names that would leave `--out` or take
a cohort file's name, look-alike temporary files the lock must not sweep, a checkpoint with other classes, an
interrupted `--force` rerun, impossible µm/px and devices, a newline that would forge a second error line, and two
cohort runs into one folder. Every case runs the installed `sagan-seg`."""
import json, math, shutil, signal
from pathlib import Path
import pytest
import torch
from test_faults_train import sagan, start, wait_stopped, one_line

LOOK_ALIKES = ('.notes.txt.tmp', '.x.partial-1', 'probe-1', '.probe-1', '.write_test', '.labels.partial-7.tif')

def checkpoint(path, mpp=0.5, names=('background', 'glomeruli', 'podocyte', 'non-podocyte'), fill=None):
    "A tiny untrained generator's checkpoint trained (it says) at `mpp` µm/px on `names`; `fill`: every pixel that class."
    from sagan_seg.generator import Generator, GeneratorConfig
    from sagan_seg.checkpoints import save_checkpoint
    from sagan_seg.core import config_to_dict
    torch.manual_seed(0)
    g = Generator(GeneratorConfig(depth=3, base_width=8, n_classes=len(names)))
    sd = g.state_dict()
    if fill is not None:
        sd['head.2.weight'].zero_(); sd['head.2.bias'].zero_(); sd['head.2.bias'][fill] = 5.0
    return save_checkpoint(path, {'config': {'generator': config_to_dict(g.cfg), 'mpp': mpp}, 'generator': sd,
                                  'epoch': 1, 'class_names': list(names)})

@pytest.fixture(scope='module')
def kit(tmp_path_factory):
    "A checkpoint at 0.5 µm/px and two small synthetic slides at 0.5 µm/px."
    from sagan_seg.slides import synth_slide
    d = tmp_path_factory.mktemp('hostile_cohort')
    (d/'slides').mkdir()
    for name, seed in (('a', 1), ('b', 2)): synth_slide(d/'slides'/f'{name}.tif', size=(256, 320), seed=seed, mpp=0.5)
    return dict(ckpt=checkpoint(d/'best.pt'), a=d/'slides'/'a.tif', b=d/'slides'/'b.tif')

def predict(ckpt, *inputs_and_options, fault=None):
    return sagan('predict', '--checkpoint', ckpt, *inputs_and_options, '--tile', '64', '--overlap', '16', '--no-progress',
                 '--no-tissue', fault=fault)

def error_lines(err): return [l for l in err.splitlines() if l.startswith('sagan-seg: error')]

def test_dangerous_slide_names_stay_inside_out(kit, tmp_path):
    """Slides named '...tif' (stem '..'), '.hidden.tif', 'x<newline>sagan-seg: error: forged.tif' and 'summary.csv.tif' each fail alone,
    with one line each under one error; the good slide is done; nothing is written beside --out, and files there and
    inside --out that merely look temporary survive the lock's sweep."""
    src = tmp_path/'in'; src.mkdir()
    bad = ['...tif', '.hidden.tif', 'x\nsagan-seg: error: forged.tif', 'summary.csv.tif']
    for name in bad: shutil.copy(kit['b'], src/name)
    out = tmp_path/'out'; out.mkdir()
    for folder in (tmp_path, out):
        for name in LOOK_ALIKES: (folder/name).write_text('mine')
    before = sorted(p.name for p in tmp_path.iterdir())
    r = predict(kit['ckpt'], kit['a'], *(src/n for n in bad), '--out', out)
    assert r.returncode == 2 and 'Traceback' not in r.stderr, r.stderr
    assert error_lines(r.stderr) == ['sagan-seg: error: 4 of 5 slides failed:'], r.stderr     # one error line, problems indented
    for why in ("'..' is . or ..", "'.hidden' starts with a dot", 'contains a path separator or a control character',
                "would take the name of the cohort's summary.csv"):
        assert why in r.stderr, (why, r.stderr)
    assert json.loads((out/'a'/'done.json').read_text())['files']                              # the good slide went on
    assert sorted(p.name for p in tmp_path.iterdir()) == before                                # nothing new beside --out
    for folder in (tmp_path, out):
        for name in LOOK_ALIKES: assert (folder/name).read_text() == 'mine', (folder, name)
    assert (out/'summary.csv').is_file()
    assert sorted(p.name for p in out.iterdir() if p.name not in LOOK_ALIKES and not p.name.startswith('.')) == ['a', 'summary.csv']

def test_slides_sharing_a_stem_refused(kit, tmp_path):
    "Two slides whose stems differ only in case (one folder on a case-insensitive disk): refused before anything is written."
    other = tmp_path/'other'; other.mkdir(); shutil.copy(kit['b'], other/'A.tif')
    one_line(predict(kit['ckpt'], kit['a'], other/'A.tif', '--out', tmp_path/'out'), 2, 'share the file name', "'A'", "'a'")
    assert not (tmp_path/'out').exists()

def test_checkpoint_classes_name_the_outputs(tmp_path, kit):
    """A model trained on other classes: the areas, the label palette's description, GeoJSON and XML use its names;
    glomerulus counting is skipped, said once."""
    names = ('background', 'tubule', 'vessel')
    ck = checkpoint(tmp_path/'other.pt', names=names, fill=1)
    out = tmp_path/'out'
    r = predict(ck, kit['a'], kit['b'], '--out', out)
    assert r.returncode == 0, r.stderr
    assert r.stderr.count('no glomerulus counts') == 1, r.stderr
    for s in ('a', 'b'):
        areas = (out/s/'class_areas.csv').read_text().splitlines()
        assert [l.split(',')[0] for l in areas[1:]] == list(names), areas
        assert not (out/s/'glomeruli.csv').exists()
        gj = json.loads((out/s/'predictions.geojson').read_text())
        got = {f['properties']['classification']['name'] for f in gj['features']}
        assert got == {'tubule'}, got
        xml = (out/s/'predictions.xml').read_text()
        assert 'tubule' in xml and 'lomerul' not in xml and 'odocyte' not in xml
        assert json.loads((out/s/'done.json').read_text())['classes'] == list(names)

def test_interrupted_force_rerun_and_skipped_slide_sweep(kit, tmp_path):
    """kill -9 during a `--force` rerun: the slide it stopped in has no done.json (so the next run redoes it); a
    skipped, complete slide's folder is swept of a killed run's temporary files, and its look-alikes kept."""
    out = tmp_path/'out'
    assert predict(kit['ckpt'], kit['a'], kit['b'], '--out', out).returncode == 0
    r = predict(kit['ckpt'], kit['a'], kit['b'], '--out', out, '--force', fault='labels.tif:SIGKILL')
    assert r.returncode == -signal.SIGKILL, r.stderr
    assert not (out/'a'/'done.json').exists()                              # stopped in slide a: a is not done
    assert (out/'b'/'done.json').is_file()                                 # b was not reached: still complete
    ours = out/'b'/'.labels.sagan-seg-tmp-99999.tif'; ours.write_bytes(b'half')
    for name in LOOK_ALIKES: (out/'b'/name).write_text('mine')
    r = predict(kit['ckpt'], kit['a'], kit['b'], '--out', out)
    assert r.returncode == 0, r.stderr
    assert 'b.tif: outputs complete, skipped' in r.stdout and 'a.tif: level 0' in r.stdout, r.stdout
    assert not ours.exists()
    for name in LOOK_ALIKES: assert (out/'b'/name).read_text() == 'mine'
    assert not [p.name for p in (out/'a').iterdir() if 'sagan-seg-tmp' in p.name]

@pytest.mark.parametrize('mpp', ['nan', 'inf', '0', '-1', '1e-300'])
def test_impossible_slide_mpp_refused_before_any_slide(kit, tmp_path, mpp):
    "--slide-mpp that is no µm/px: one line naming it, exit 2, before any slide is read; a fresh --out is not left."
    out = tmp_path/'out'
    one_line(predict(kit['ckpt'], kit['a'], kit['b'], '--out', out, '--slide-mpp', mpp), 2, '--slide-mpp', 'not a usable µm/px')
    assert not out.exists()

@pytest.mark.parametrize('mpp', [math.nan, -1.0, 0.0, 1e-300])
def test_checkpoint_mpp_that_is_no_mpp_refused(kit, tmp_path, mpp):
    "A checkpoint whose recorded µm/px is not a positive finite number: one line naming the checkpoint, exit 2."
    ck = checkpoint(tmp_path/'odd.pt', mpp=mpp)
    out = tmp_path/'out'
    one_line(predict(ck, kit['a'], '--out', out), 2, 'odd.pt', 'recorded training µm/px', 'not a usable µm/px')
    assert not out.exists()

def test_absurd_enlargement_refused(kit, tmp_path):
    "A model at 0.05 µm/px on a 0.5 µm/px slide would mean 10x per side: refused before reading, naming both µm/px."
    ck = checkpoint(tmp_path/'fine.pt', mpp=0.05)
    out = tmp_path/'out'
    one_line(predict(ck, kit['a'], '--out', out), 2, 'a.tif', '0.05 µm/px', '0.5 µm/px', 'enlarged 10 times')
    assert not out.exists()

@pytest.mark.skipif(torch.cuda.is_available(), reason='this machine has CUDA')
def test_cuda_without_cuda(kit, tmp_path):
    "--device cuda without CUDA says so (not that the checkpoint is corrupt)."
    out = tmp_path/'out'
    line = one_line(predict(kit['ckpt'], kit['a'], '--out', out, '--device', 'cuda'), 2, 'CUDA is not available')
    assert 'corrupt' not in line and not out.exists()

def test_newline_in_a_name_cannot_forge_an_error_line(tmp_path, kit):
    "A file whose name holds a newline and a fake error: the message names it escaped, on the one error line."
    bad = tmp_path/'x\nsagan-seg: error: forged.png'; bad.write_bytes(b'not an image')
    r = predict(kit['ckpt'], bad, '--out', tmp_path/'out')
    line = one_line(r, 2, 'forged.png')
    assert len(error_lines(r.stderr)) == 1 and '\\nsagan-seg: error: forged.png' in line, r.stderr

def test_second_cohort_run_refused_at_once(kit, tmp_path):
    "A cohort run stopped in its first slide holds --out: a second cohort run into it is refused at once, naming its pid."
    out = tmp_path/'out'
    p = start('predict', '--checkpoint', kit['ckpt'], kit['a'], kit['b'], '--out', out, '--tile', '64', '--overlap', '16',
              '--no-progress', '--no-tissue', fault='labels.tif:SIGSTOP')
    try:
        wait_stopped(p)
        r = predict(kit['ckpt'], kit['b'], kit['a'], '--out', out)        # another order: b would be free
        one_line(r, 2, str(out), f'pid {p.pid}', 'in use')
        assert not (out/'b').exists()                                      # refused before any slide
    finally:
        p.kill(); p.wait()
