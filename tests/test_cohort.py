"""`predict` over a cohort under torchrun: 2 gloo processes split 4 slides, each slide done exactly once, one summary."""
import json, os, signal, subprocess, sys
from pathlib import Path
import pandas as pd, pytest, torch
from sagan_seg.slides import synth_slide
from sagan_seg.fitting import fit
from training_utils import tiny_dataset, tiny_config, one_thread  # noqa: F401 (autouse fixture)

def test_torchrun_splits_the_slides(tmp_path):
    slides = tmp_path/'slides'; slides.mkdir()
    for i in range(4): synth_slide(slides/f's{i}.tif', size=(256, 320), seed=i, mpp=0.5)
    fit(tiny_config(tiny_dataset(tmp_path), tmp_path/'run', epochs=1, steps_per_epoch=1, gan=False, calibrate=False, mpp=0.5))
    torchrun = Path(sys.executable).parent/'torchrun'
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'MPLBACKEND': 'Agg'}
    p = subprocess.Popen([str(torchrun), '--standalone', '--nproc_per_node', '2', '-m', 'sagan_seg.cli', 'predict',
                          '--checkpoint', str(tmp_path/'run'), str(slides), '--out', str(tmp_path/'out'),
                          '--tile', '64', '--overlap', '16', '--no-progress'],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True)
    try: log, _ = p.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL); log, _ = p.communicate()
        pytest.fail('torchrun timed out:\n' + log[-3000:])
    assert p.returncode == 0, log[-3000:]
    done = {s: json.loads((tmp_path/'out'/s/'done.json').read_text()) for s in ('s0', 's1', 's2', 's3')}
    assert {s: d['rank'] for s, d in done.items()} == {'s0': 0, 's1': 1, 's2': 0, 's3': 1}   # every slide once, split by rank
    assert len({d['pid'] for d in done.values()}) == 2
    assert sum(l.endswith('-> ' + str(tmp_path/'out'/'s0')) for l in log.splitlines()) == 1, log   # s0 predicted once
    tab = pd.read_csv(tmp_path/'out'/'summary.csv')                              # written once, by rank 0, over all slides
    assert tab.slide.tolist() == ['s0.tif', 's1.tif', 's2.tif', 's3.tif'] and (tab.status == 'done').all()
    assert all((tmp_path/'out'/s/f).is_file() for s in done for f in ('predictions.geojson', 'predictions.xml', 'labels.tif'))
