"""Faults during `sagan-seg train`, met as a user meets them: two runs into one folder, SIGTERM and SIGINT
while a file is being committed, kill -9 between two writes and a resume that repairs, a full disk, a resume with
other options, NaN weights, `python -m` and `torchrun`. Signals and disk errors are real, injected at a named write
through the writer's hook (`SAGAN_SEG_FAULT=FILE[@N]:ACTION`, see `core.fault_point`), never timed with sleeps."""
import json, os, shutil, signal, subprocess, sys, time
from pathlib import Path
import pandas as pd
import pytest
import torch

EXE = Path(sys.executable).parent/'sagan-seg'
TINY = ['--width', '8', '--depth', '3', '--disc-width', '8', '--crop', '64', '--batch-size', '4', '--steps-per-epoch', '2',
        '--no-progress', '--no-calibrate', '--device', 'cpu']

def env(fault=None, **kw):
    e = {**os.environ, 'MPLBACKEND': 'Agg', 'OMP_NUM_THREADS': '1', **kw}
    e.pop('SAGAN_SEG_FAULT', None)
    if fault: e['SAGAN_SEG_FAULT'] = fault
    return e

def _sigint_default():
    """In the child before exec: Ctrl-C's default disposition. A test runner started in the background (`cmd &`, nohup)
    has SIGINT ignored, children inherit that, and Python then never turns SIGINT into KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)

def sagan(*args, fault=None, exe=None, **kw):
    "Run the installed console script (or `exe`, a list) as a user would; a fault to inject, optionally."
    cmd = (exe or [str(EXE)]) + [str(a) for a in args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env(fault, **kw), timeout=300, preexec_fn=_sigint_default)

def start(*args, fault=None):
    return subprocess.Popen([str(EXE), *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env(fault),
                            preexec_fn=_sigint_default)

def wait_stopped(p, timeout=180):
    "Wait until `p` has stopped itself (SIGSTOP at its fault point): it holds its locks, frozen mid-write."
    t0 = time.time()
    while time.time() - t0 < timeout:
        if p.poll() is not None: raise AssertionError(f'exited {p.returncode} before the fault point: {p.stderr.read()}')
        if Path(f'/proc/{p.pid}/stat').read_text().rsplit(')', 1)[1].split()[0] == 'T': return
        time.sleep(0.05)
    raise AssertionError('the process never reached its fault point')

def one_line(r, code, *words):
    "Exit `code`, no traceback, one `sagan-seg:` line that holds every word."
    err = r.stderr if hasattr(r, 'stderr') else r[1]
    rc = r.returncode if hasattr(r, 'returncode') else r[0]
    assert rc == code, (rc, err)
    assert 'Traceback' not in err, err
    lines = [l for l in err.splitlines() if l.startswith('sagan-seg: ') and 'warning' not in l]
    assert len(lines) == 1, err
    for w in words: assert str(w) in lines[0], (w, lines[0])
    return lines[0]

def hidden(folder):
    "Temporary and partial files left in `folder` (the lock file is not one)."
    return sorted(p.name for p in Path(folder).rglob('.*') if p.name != '.sagan-seg.lock')

def epoch_of(path): return torch.load(path, weights_only=True)['epoch']

@pytest.fixture(scope='module')
def ds(tmp_path_factory):
    from sagan_seg.synth import write_synthetic_dataset
    return write_synthetic_dataset(tmp_path_factory.mktemp('faults')/'ds', n=6, size=64, seed=1)

@pytest.fixture(scope='module')
def killed(ds, tmp_path_factory):
    "A run killed (-9) after last.pt, before best.pt and history.csv; then `train --resume` with no other option."
    run = tmp_path_factory.mktemp('killed')/'run'
    r1 = sagan('train', '--data', ds, '--out', run, '--epochs', '1', *TINY, fault='best.pt@1:SIGKILL')
    left = sorted(p.name for p in run.iterdir())
    r2 = sagan('train', '--data', ds, '--out', run, '--resume')
    return run, r1, left, r2

def test_second_run_refused_and_sigterm_keeps_last_epoch(ds, tmp_path):
    "Items 3 and 9: one run per folder (the second is refused, naming the holder); SIGTERM cleans up like Ctrl-C."
    run = tmp_path/'run'
    p = start('train', '--data', ds, '--out', run, '--epochs', '2', *TINY, fault='history.csv@1:SIGSTOP')
    try:
        wait_stopped(p)                                          # epoch 1: last.pt written, history.csv being committed
        r = sagan('train', '--data', ds, '--out', run, '--epochs', '2', '--seed', '1', *TINY)
        one_line(r, 2, run, f'pid {p.pid}', 'in use by another sagan-seg process')
        assert hidden(run), 'the frozen run should be holding its temporary history.csv'
        p.send_signal(signal.SIGTERM); p.send_signal(signal.SIGCONT)
        out, err = p.communicate(timeout=120)
    finally:
        if p.poll() is None: p.kill(); p.wait()
    one_line((p.returncode, err), 143, 'interrupted by SIGTERM while writing', run/'history.csv', 'temporary files removed')
    assert hidden(run) == []
    assert epoch_of(run/'last.pt') == 1                          # the last epoch's checkpoint is kept
    assert json.loads((run/'config.json').read_text())['seed'] == 0   # no trace of the refused run

def test_sigint_inside_checkpoint_write(ds, tmp_path):
    "Ctrl-C inside torch.save of last.pt: one line naming the file, exit 130, no temporary file."
    run = tmp_path/'run'
    r = sagan('train', '--data', ds, '--out', run, '--epochs', '1', *TINY, fault='last.pt@1:SIGINT')
    one_line(r, 130, 'interrupted by SIGINT while writing', run/'last.pt')
    assert hidden(run) == [] and not (run/'last.pt').exists()

def test_disk_full_while_saving(ds, tmp_path):
    "ENOSPC while best.pt is written: one line with the path and the cause, exit 2, no temporary file kept."
    run = tmp_path/'run'
    r = sagan('train', '--data', ds, '--out', run, '--epochs', '1', *TINY, fault='best.pt:ENOSPC')
    one_line(r, 2, run/'best.pt', 'No space left on device [ENOSPC]')
    assert hidden(run) == [] and not (run/'best.pt').exists()

def test_kill_between_writes_then_resume_repairs(killed):
    "after kill -9 between last.pt and best.pt, `--resume` restores best.pt and history.csv (and clears the leftovers)."
    run, r1, left, r2 = killed
    assert r1.returncode == -signal.SIGKILL, r1.stderr
    assert 'last.pt' in left and 'best.pt' not in left and 'history.csv' not in left
    assert any(n.startswith('.best.pt.') and n.endswith('.tmp') for n in left), left   # what kill -9 leaves
    assert r2.returncode == 0, r2.stderr
    assert 'repaired best.pt' in r2.stderr and 'history.csv (0 -> 1 rows)' in r2.stderr, r2.stderr
    assert epoch_of(run/'best.pt') == epoch_of(run/'last.pt') == 1
    assert list(pd.read_csv(run/'history.csv').epoch) == [1]
    assert hidden(run) == []

def test_resume_with_other_options_refused(killed, ds, tmp_path):
    "a resume whose options differ from the checkpoint's is refused, naming each one; config.json untouched."
    run = killed[0]
    other = tmp_path/'other'; shutil.copytree(ds, other)            # the same tiles, another folder
    r = sagan('train', '--data', other, '--out', run, '--resume', '--seed', '1', '--lr-g', '0.001', '--batch-size', '2', '--crop', '32')
    one_line(r, 2, 'cannot resume', 'seed: 0 vs 1', 'lr_g: 0.0001 vs 0.001', 'batch_size: 4 vs 2', 'crop: 64 vs 32', 'data: ')
    assert json.loads((run/'config.json').read_text())['seed'] == 0

def test_non_finite_weights_refused(killed, ds, tmp_path):
    """a checkpoint with a NaN tensor is refused by evaluate, naming the tensor (predict and resume load
    weights through the same `checkpoints.load_state`, tested in nbs/14_checkpoints)."""
    run = killed[0]
    ck = torch.load(run/'last.pt', weights_only=True)
    key = next(k for k, v in ck['generator'].items() if v.is_floating_point() and v.dim() == 4)
    ck['generator'][key][0, 0, 0, 0] = float('nan')
    bad = tmp_path/'nan'/'last.pt'; bad.parent.mkdir(); torch.save(ck, bad)
    one_line(sagan('evaluate', '--checkpoint', bad, '--data', ds, '--out', tmp_path/'ev'), 2, key, 'NaN or infinite')
    assert not (tmp_path/'ev').exists()                                      # a failed command leaves no empty folder

def test_module_and_torchrun(tmp_path):
    """`python -m sagan_seg.cli` runs the command line (bad options exit 2); README's torchrun command trains.
    Its 48 px images are smaller than the 64 px crop: mirror-padded, with a one-line warning."""
    from sagan_seg.synth import write_synthetic_dataset
    ds = write_synthetic_dataset(tmp_path/'ds48', n=4, size=48, seed=3)
    r = sagan('train', '--data', ds, '--out', tmp_path/'x', '--bogus', exe=[sys.executable, '-m', 'sagan_seg.cli'])
    assert r.returncode == 2 and 'unrecognized arguments: --bogus' in r.stderr, r.stderr
    torchrun = [str(Path(sys.executable).parent/'torchrun'), '--standalone', '--nproc_per_node', '1', '-m', 'sagan_seg.cli']
    r = sagan('train', '--data', ds, '--out', tmp_path/'ddp', '--epochs', '1', *TINY, exe=torchrun)
    assert r.returncode == 0, r.stderr
    assert 'trained 1 epochs' in r.stdout and epoch_of(tmp_path/'ddp'/'last.pt') == 1
    assert 'sagan-seg: warning:' in r.stderr and 'smaller than the 64 px crop are mirror-padded' in r.stderr, r.stderr

def test_evaluate_tables_all_or_nothing_and_unreadable_checkpoint(killed, ds, tmp_path):
    """a full disk half-way through evaluate's tables leaves the earlier set whole (staged, then committed
    together). A truncated checkpoint is reported in full (not cut at 160 characters), on one line."""
    run, ev = killed[0], tmp_path/'ev'
    names = ['metrics.md'] + [f'metrics_{k}.csv' for k in ('overall', 'f1', 'iou', 'precision', 'recall')]
    ev.mkdir(); [(ev/n).write_text('earlier') for n in names]
    one_line(sagan('evaluate', '--checkpoint', run/'last.pt', '--data', ds, '--out', ev, fault='metrics_iou.csv:ENOSPC'),
             2, 'metrics_iou.csv', 'No space left on device')
    assert all((ev/n).read_text() == 'earlier' for n in names) and hidden(ev) == []
    b = (run/'last.pt').read_bytes(); (tmp_path/'cut.pt').write_bytes(b[:len(b) // 2])
    line = one_line(sagan('evaluate', '--checkpoint', tmp_path/'cut.pt', '--data', ds, '--out', ev), 2, 'cut.pt', 'truncated or corrupt')
    assert len(line) > 200 and line.rstrip().endswith(')'), line
