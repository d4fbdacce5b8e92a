"""The installed `sagan-seg` console script, run as a user runs it: exit codes, one-line errors, no tracebacks."""
import os, subprocess, sys
from pathlib import Path
import pytest

EXE = Path(sys.executable).parent / 'sagan-seg'

def sagan(*args, cwd=None):
    env = {**os.environ, 'MPLBACKEND': 'Agg'}
    return subprocess.run([str(EXE), *map(str, args)], capture_output=True, text=True, cwd=cwd, env=env, timeout=600)

def assert_clean_error(r, *words):
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert 'Traceback' not in r.stderr, r.stderr
    for w in words: assert w in r.stderr, r.stderr

def test_help_and_version():
    r = sagan('--help'); assert r.returncode == 0 and 'synth' in r.stdout and 'predict' in r.stdout
    r = sagan('--version'); assert r.returncode == 0 and 'sagan_seg' in r.stdout

PLOTTING = ('matplotlib', 'ipywidgets')

def loads_plotting(code:str) -> subprocess.CompletedProcess:
    "Run `code` in a fresh interpreter, then print which of the plotting and widget modules it imported."
    probe = f"{code}\nimport sys; print(sorted(m for m in {PLOTTING!r} if m in sys.modules))"
    return subprocess.run([sys.executable, '-c', probe], capture_output=True, text=True, timeout=300,
                          env={**os.environ, 'MPLBACKEND': 'Agg'})

def test_import_skips_plotting():
    r = loads_plotting('import sagan_seg')
    assert r.returncode == 0 and r.stdout.strip() == '[]', (r.stdout, r.stderr)
    r = loads_plotting('from sagan_seg import Generator, TrainConfig, predict_slide')
    assert r.returncode == 0 and r.stdout.strip() == '[]', (r.stdout, r.stderr)

@pytest.mark.parametrize('command', ['', 'synth', 'tiles', 'train', 'evaluate', 'predict'])
def test_help_skips_plotting(command):
    "`sagan-seg --help`, and the parser of every command that draws nothing, import neither matplotlib nor ipywidgets."
    argv = [command, '--help'] if command else ['--help']
    r = loads_plotting('import contextlib, io\nfrom sagan_seg.cli import run\n'
                       f'with contextlib.redirect_stdout(io.StringIO()): assert run({argv!r}) == 0')
    assert r.returncode == 0 and r.stdout.strip() == '[]', (r.stdout, r.stderr)

@pytest.fixture(scope='module')
def run(tmp_path_factory):
    d = tmp_path_factory.mktemp('cli')
    r = sagan('synth', d/'ds', '--n', '6', '--size', '64', '--seed', '3'); assert r.returncode == 0, r.stderr
    r = sagan('train', '--data', d/'ds', '--out', d/'run', '--epochs', '1', '--crop', '32', '--batch-size', '2',
              '--width', '8', '--depth', '2', '--disc-width', '8', '--no-progress')
    assert r.returncode == 0, r.stderr
    assert 'logit bias calibrated on the validation set' in r.stdout, r.stdout
    return d

def test_train_no_calibrate(run, tmp_path):
    import torch
    r = sagan('train', '--data', run/'ds', '--out', tmp_path/'nc', '--epochs', '1', '--crop', '32', '--batch-size', '2',
              '--width', '8', '--depth', '2', '--disc-width', '8', '--no-progress', '--no-calibrate')
    assert r.returncode == 0 and 'calibrated' not in r.stdout, (r.stdout, r.stderr)
    ck = torch.load(tmp_path/'nc'/'best.pt', weights_only=True)
    assert 'calibration' not in ck and not ck['generator']['logit_bias'].any() and ck['config']['calibrate'] is False
    assert 'calibration' in torch.load(run/'run'/'best.pt', weights_only=True)

def test_synth_train_evaluate(run):
    r = sagan('evaluate', '--checkpoint', run/'run'/'last.pt', '--data', run/'ds', '--out', run/'eval')
    assert r.returncode == 0, r.stderr
    assert 'F1 score' in r.stdout and (run/'eval'/'metrics.md').exists()

def test_bad_inputs(run, tmp_path):
    assert_clean_error(sagan('train', '--data', tmp_path/'missing', '--out', tmp_path/'o'), 'does not exist')
    assert_clean_error(sagan('train', '--data', run/'ds', '--out', tmp_path/'o', '--crop', '30', '--depth', '2'), 'crop')
    (tmp_path/'empty'/'images').mkdir(parents=True)
    assert_clean_error(sagan('train', '--data', tmp_path/'empty', '--out', tmp_path/'o2'))
    assert_clean_error(sagan('evaluate', '--checkpoint', tmp_path/'nope.pt', '--data', run/'ds'))
    bad = tmp_path/'bad.pt'; bad.write_bytes(b'not a checkpoint')
    assert_clean_error(sagan('evaluate', '--checkpoint', bad, '--data', run/'ds'), 'bad.pt')
    assert_clean_error(sagan('predict', '--checkpoint', run/'run', tmp_path/'nope.svs', '--out', tmp_path/'p'), 'nope.svs')
    assert_clean_error(sagan('predict', '--checkpoint', run/'run', run/'ds'/'images'/'tile_00000.png',
                             '--out', tmp_path/'p', '--level', '3'), 'level')
    assert_clean_error(sagan('train', '--data', run/'ds', '--out', run/'run', '--epochs', '1', '--crop', '32',
                             '--width', '8', '--depth', '2', '--no-progress'), 'already holds a run')
    r = sagan('train', '--data', run/'ds', '--out', tmp_path/'o3', '--epochs', 'zero'); assert r.returncode == 2

def test_unwritable_output(run, tmp_path):
    f = tmp_path/'file'; f.write_text('x')
    assert_clean_error(sagan('synth', f, '--n', '1', '--size', '64'), 'not a folder')
    assert_clean_error(sagan('evaluate', '--checkpoint', run/'run'/'last.pt', '--data', run/'ds', '--out', f), 'not a folder')

def test_predict_skips_plotting(run, tmp_path):
    "A `predict` run (what each torchrun worker does) imports neither matplotlib nor ipywidgets."
    tile = run/'ds'/'images'/'tile_00000.png'
    r = loads_plotting('import contextlib, io\nfrom sagan_seg.cli import run\n'
                       f"with contextlib.redirect_stdout(io.StringIO()): assert run(['predict', '--checkpoint', {str(run/'run')!r}, "
                       f"{str(tile)!r}, '--out', {str(tmp_path/'p')!r}, '--tile', '32', '--overlap', '8', '--no-progress']) == 0")
    assert r.returncode == 0 and r.stdout.strip() == '[]', (r.stdout, r.stderr)
    assert (tmp_path/'p'/'labels.tif').is_file()

def test_position_attention_options_reach_the_checkpoint_and_resume_exactly(run, tmp_path):
    "Issue 21's generator options: given on the command line, stored in the checkpoint, rebuilt by load_generator, and a run stopped after epoch 1 and resumed ends bit-identical to one run straight through."
    import torch
    from sagan_seg.checkpoints import load_generator
    opts = ['--data', run/'ds', '--epochs', '2', '--crop', '32', '--batch-size', '2', '--width', '8', '--depth', '2', '--disc-width', '8',
            '--no-progress', '--attn', 'bottleneck', '--attn-variant', 'position', '--attn-heads', '2', '--attn-gate-init', '0.2',
            '--attn-lr-mult', '10', '--bottleneck-dilation', '2', '--position-only']
    r = sagan('train', *opts, '--out', tmp_path/'straight'); assert r.returncode == 0, r.stderr
    gen = torch.load(tmp_path/'straight'/'last.pt', weights_only=True)['config']['generator']
    assert {k: gen[k] for k in ('attn_variant', 'attn_heads', 'attn_gate_init', 'attn_lr_mult', 'bottleneck_dilation', 'attn_content')} == \
        dict(attn_variant='position', attn_heads=2, attn_gate_init=0.2, attn_lr_mult=10.0, bottleneck_dilation=2, attn_content=False)
    layer = load_generator(tmp_path/'straight'/'last.pt').attention_layers()['bottleneck']
    assert (layer.variant, layer.heads, layer.content, layer.lr_mult) == ('position', 2, False, 10.0)
    r = sagan('train', *opts, '--out', tmp_path/'resumed', '--stop-after', '1'); assert r.returncode == 0, r.stderr
    r = sagan('train', *opts, '--out', tmp_path/'resumed', '--resume'); assert r.returncode == 0, r.stderr
    a, b = (torch.load(tmp_path/d/'last.pt', weights_only=True)['generator'] for d in ('straight', 'resumed'))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), [k for k in a if not torch.equal(a[k], b[k])]
    assert_clean_error(sagan('train', *opts[:-1], '--out', tmp_path/'bad', '--attn-heads', '3'), 'positive divisor')

def test_recipe_options_reach_the_checkpoint_resume_exactly_and_tta(run, tmp_path):
    "Issue 22's recipe options: on the command line, in the checkpoint, resumed bit-identically (the average too); --tta in evaluate and predict."
    import torch
    opts = ['--data', run/'ds', '--epochs', '2', '--crop', '32', '--batch-size', '2', '--width', '8', '--depth', '2', '--disc-width', '8',
            '--no-progress', '--betas-g', '0.9', '0.99', '--weight-decay-g', '0.001', '--lr-schedule', 'cosine', '--warmup', '0.25',
            '--d-every', '2', '--ema', '0.9']
    r = sagan('train', *opts, '--out', tmp_path/'straight'); assert r.returncode == 0, r.stderr
    ck = torch.load(tmp_path/'straight'/'last.pt', weights_only=True)
    assert {k: ck['config'][k] for k in ('betas_g', 'weight_decay_g', 'warmup', 'd_every', 'ema')} == \
        dict(betas_g=[0.9, 0.99], weight_decay_g=0.001, warmup=0.25, d_every=2, ema=0.9)
    assert 'generator_train' in ck
    r = sagan('train', *opts, '--out', tmp_path/'resumed', '--stop-after', '1'); assert r.returncode == 0, r.stderr
    r = sagan('train', *opts, '--out', tmp_path/'resumed', '--resume'); assert r.returncode == 0, r.stderr
    b = torch.load(tmp_path/'resumed'/'last.pt', weights_only=True)
    for key in ('generator', 'generator_train'):
        assert all(torch.equal(ck[key][k], b[key][k]) for k in ck[key]), key
    r = sagan('evaluate', '--checkpoint', tmp_path/'straight', '--data', run/'ds', '--out', tmp_path/'ev', '--tta')
    assert r.returncode == 0 and 'F1 score' in r.stdout, r.stderr
    tile = run/'ds'/'images'/'tile_00000.png'
    r = sagan('predict', '--checkpoint', tmp_path/'straight', tile, '--out', tmp_path/'p', '--tile', '32', '--overlap', '8', '--no-progress', '--tta')
    assert r.returncode == 0 and (tmp_path/'p'/'labels.tif').is_file(), r.stderr
    assert_clean_error(sagan('train', *opts[:-1], '1', '--out', tmp_path/'bad'), 'ema must be in [0, 1)')
