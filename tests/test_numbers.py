"""Numbers that cannot go stale: what README.md and the committed notebook outputs quote agrees with the files that
hold the measurements (benchmarks/results/*), and the prose around them types no measured number by hand."""
import inspect, json, math, re, statistics, sys
from pathlib import Path
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT/'benchmarks'/'results'
sys.path.insert(0, str(ROOT/'tools'))
import make_readme                                                   # noqa: E402

def cells(nb:Path): return json.loads(nb.read_text(encoding='utf-8'))['cells']
def src(c): return ''.join(c['source'])

def md_tables(text:str)->list[pd.DataFrame]:
    "Every Markdown table in `text`, as a DataFrame of stripped strings (first row = header)."
    out, block = [], []
    for line in text.splitlines() + ['']:
        if line.startswith('|'): block.append(line); continue
        if block:
            rows = [[c.strip() for c in l.strip().strip('|').split('|')] for l in block if not re.match(r'^\|[-:| ]+\|$', l)]
            if len(rows) > 1: out.append(pd.DataFrame(rows[1:], columns=rows[0]))
            block = []
    return out

def test_readme_is_rendered_from_the_results():
    "README.md is exactly what tools/make_readme.py renders from nbs/index.ipynb and benchmarks/results now."
    assert (ROOT/'README.md').read_text(encoding='utf-8') == make_readme.render(), 'run `python tools/make_readme.py`'

MEASURED = re.compile(r'(?<![\w.])(?:0\.\d{3,}|\d+\.\d+x)(?![\w.])')   # 0.9393, 1.19x: how measurements are written here

def paper_numbers()->set:
    "The paper's own numbers (typed from the paper into `metrics.PAPER_RESULTS`): prose may quote those."
    from sagan_seg.metrics import PAPER_RESULTS
    vals = [v for d in (PAPER_RESULTS['overall'], *PAPER_RESULTS['per_class'].values()) for v in d.values()]
    return {f'{v:.4f}' for v in vals} | {f'{v:g}' for v in vals}

@pytest.mark.parametrize('name', ['index', '19_paper', '20_ablation', '28_semi'])
def test_prose_types_no_measured_numbers(name):
    "The Markdown of these notebooks quotes no measured number: such numbers are rendered from benchmarks/results."
    typed = [(c['id'], m) for c in cells(ROOT/'nbs'/f'{name}.ipynb') if c['cell_type'] == 'markdown'
             for m in MEASURED.findall(src(c)) if m not in paper_numbers()]
    assert not typed, f'{name}: measured numbers typed into Markdown (render them from benchmarks/results): {typed}'

def test_readme_demo_table_matches_the_runs():
    "The per-seed demo table README shows, parsed back, holds the numbers of demo_runs.csv and their mean ± sd."
    runs = pd.read_csv(RESULTS/'demo_runs.csv').sort_values('seed')
    table = next(t for t in md_tables((ROOT/'README.md').read_text(encoding='utf-8')) if t.columns[0] == 'metric')
    for (key, label) in [('macro_f1', 'F1 (macro, 4 classes)'), ('f1_podocyte', 'F1 podocyte'), ('f1_non_podocyte', 'F1 non-podocyte')]:
        row = table[table.metric == label].iloc[0]
        assert [float(row[f'seed {s}']) for s in runs.seed] == pytest.approx(runs[key].tolist(), abs=5e-5), label
        m, sd = (float(x) for x in row['mean ± sd'].split('±'))
        assert (m, sd) == pytest.approx((runs[key].mean(), runs[key].std(ddof=1)), abs=5e-5), label

def cited_tables(nb:Path):
    "(cell id, results file, table) for every Markdown table in a notebook output that cites `benchmarks/results/<file>`."
    for c in cells(nb):
        for o in c.get('outputs', []):
            text = ''.join(o.get('data', {}).get('text/markdown', ''))
            for name in set(re.findall(r'benchmarks/results/([\w.]+\.md)', text)):
                for t in md_tables(text): yield c['id'], name, t

NOTEBOOKS = sorted((ROOT/'nbs').glob('[0-9][0-9]_*.ipynb'))

@pytest.mark.parametrize('nb', NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_tables_match_results(nb):
    "A table a committed output shows from a results file agrees, cell for cell, with that file's table of the same first column."
    bad = []
    for cid, name, shown in cited_tables(nb):
        if not (RESULTS/name).is_file(): bad.append(f'{cid}: {name} does not exist'); continue
        same = [t for t in md_tables((RESULTS/name).read_text(encoding='utf-8')) if t.columns[0] == shown.columns[0]
                and set(shown.columns) <= set(t.columns)]
        if not same: continue                                            # a table the notebook computed itself
        ref, cols = same[0], list(shown.columns)
        for _, row in shown.iterrows():                                  # each row shown must be a row of the file's table
            if not (ref[cols] == row[cols].values).all(axis=1).any():
                bad.append(f'{cid}: {name} has no row {dict(row)}')
    assert not bad, f'{nb.name}: committed outputs disagree with benchmarks/results (re-run the notebook):\n  ' + '\n  '.join(bad)

def printed(nb:str, start:str)->str:
    "The printed line of a committed output of nbs/`nb`.ipynb that starts with `start`."
    for c in cells(ROOT/'nbs'/f'{nb}.ipynb'):
        for o in c.get('outputs', []):
            for line in ''.join(o.get('text', '')).splitlines():
                if line.startswith(start): return line
    raise AssertionError(f'{nb}: no printed line starts with {start!r}')

def test_context_sweep_lines_match_the_csv():
    "20_ablation's printed paired differences are the ones an independent computation from context_sweep.csv gives."
    cs = pd.read_csv(RESULTS/'context_sweep.csv')
    line = printed('20_ablation', 'macro F1, attention minus plain')
    shown = {float(px): (float(m), float(s)) for px, m, s in re.findall(r'(\d+) px ([+-]\d\.\d+) ± (\d\.\d+)', line)}
    for px, g in cs.groupby('deciding_px'):
        a = g[g.variant == 'U-Net + attention'].set_index('seed').macro_f1
        b = g[g.variant == 'residual U-Net'].set_index('seed').macro_f1
        d = (a - b).dropna()
        assert shown[px] == pytest.approx((d.mean(), d.std(ddof=1)), abs=5e-4), px

def test_demo_runs_report_matches_its_csv():
    "benchmarks/results/demo_runs.md's table is the one benchmarks/demo_runs.py builds from demo_runs.csv."
    sys.path.insert(0, str(ROOT/'benchmarks'))
    import demo_runs
    assert demo_runs.summary_table(pd.read_csv(RESULTS/'demo_runs.csv')) in (RESULTS/'demo_runs.md').read_text(encoding='utf-8')

def test_ablation_default_is_the_measured_budget():
    "`run_ablation`'s default budget is the one the committed equal-time ablation ran with, and the benchmark takes it from there."
    from sagan_seg.ablation import run_ablation
    default = inspect.signature(run_ablation).parameters['minutes_per_run'].default
    measured = float(re.search(r'Budget: ([\d.]+) min', (RESULTS/'ablation.md').read_text(encoding='utf-8')).group(1))
    assert default == measured
    assert "default=2" not in (ROOT/'benchmarks'/'ablation.py').read_text() and 'minutes_per_run' in (ROOT/'benchmarks'/'ablation.py').read_text()

def test_nbtool_documents_what_it_does():
    "tools/nbtool.py's docstring names its encoding settings instead of restating their values."
    text = (ROOT/'tools'/'nbtool.py').read_text()
    doc = text.split('"""')[1]
    assert 'PNG_COLOURS' in doc and 'JPEG_QUALITY' in doc and not re.search(r'\d+-colour|q\d\d', doc)

def test_recipe_choice_and_tta_lines_match_the_csv():
    "19_paper's printed choice and TTA gain are what an independent computation from recipes.csv gives."
    rc = pd.read_csv(RESULTS/'recipes.csv')
    rc = rc[rc.steps == rc[rc.recipe == 'old'].steps.min()]
    seeds = set(rc[rc.recipe == 'old'].seed)
    full = [r for r, g in rc.groupby('recipe') if seeds <= set(g.seed)]
    best = max(full, key=lambda r: rc[(rc.recipe == r) & rc.seed.isin(seeds)].val_macro_f1.mean())
    assert printed('19_paper', 'chosen on validation') == f'chosen on validation: {best}'
    line = printed('19_paper', 'TTA, same checkpoints')
    tt = rc.tta_macro_f1 - rc.macro_f1
    m = re.search(r'test ([+-]\d\.\d+) ± (\d\.\d+) \(n=(\d+)\)', line)
    assert (float(m.group(1)), float(m.group(2)), int(m.group(3))) == pytest.approx((tt.mean(), tt.std(ddof=1) / len(tt) ** 0.5, len(tt)), abs=5e-5)
    for rec in full:                                  # the paired lines (recipes_pairs.csv, read by 19_paper and README)
        if rec == 'old': continue
        d = (rc[rc.recipe == rec].set_index('seed').macro_f1 - rc[rc.recipe == 'old'].set_index('seed').macro_f1).dropna()
        want = f'{d.mean():+.4f} ± {d.std(ddof=1) / len(d) ** 0.5:.4f}'
        assert printed('19_paper', f'  {rec:14s} minus old').endswith(f'test {want}'), rec
        assert f'`{rec}` {want} (n={len(d)})' in (ROOT/'README.md').read_text(encoding='utf-8'), rec

# the comparisons README lists (the notebook prints them all)
README_SEMI = {('semi', 'sup'), ('semi', 'self'), ('self', 'sup'), ('semi', 'sup2x'), ('sup2x', 'sup'), ('adv', 'sup'), ('semi_r0', 'semi'), ('all', 'semi'),
               ('semi_pix', 'semi'), ('sup_pix', 'sup'), ('semi_pix_st', 'semi_pix'), ('fix_semi', 'sup'), ('fix_semi', 'fix_self'), ('fix_self', 'self'),
               ('fix_semi', 'sup2x'), ('all', 'fix_semi'), ('semi_pix', 'sup'), ('semi_pix', 'self'), ('all', 'semi_pix'), ('all2x', 'sup2x'),
               ('semi_pix_cls', 'semi_pix'), ('semi_pix_cls', 'sup'), ('semi_pix_cls', 'self'), ('semi_qc', 'sup')}

# the comparisons 28_semi prints (the rest are in benchmarks/results/semi_supervised.md)
NB_SEMI = {('semi', 'sup'), ('semi_pix', 'sup'), ('semi_pix', 'self'), ('all', 'semi_pix')}      # at every fraction (the rest: README, results/)
NB_SEMI_8 = NB_SEMI - {('semi_pix', 'sup'), ('semi_pix', 'self'), ('all', 'semi_pix')} | {('sup2x', 'sup'), ('semi_pix', 'semi'), ('sup_pix', 'sup'), ('semi_pix_st', 'semi_pix'),   # at 1/8: (c)'s lines
                       ('fix_semi', 'fix_self'), ('fix_semi', 'semi_pix'), ('semi_pix_cls', 'semi_pix'), ('semi_pix_cls', 'sup'), ('semi_pix_cls', 'self'),   # are the 'done when'
                       ('semi_qc', 'sup'), ('semi_qc', 'semi_pix')}                                                                                # lines (DONE_8)
DONE_8 = {('semi_pix', 'sup'): 'done when', ('semi_pix', 'self'): '  (c) - (b)', ('all', 'semi_pix'): '  goal', ('semi_pix', 'sup2x'): '  equal time'}   # (c) is semi_pix

def test_semi_lines_match_the_csv():
    "28_semi's printed paired differences, and README's, are what an independent computation from semi_supervised.csv gives."
    ss = pd.read_csv(RESULTS/'semi_supervised.csv')
    readme = (ROOT/'README.md').read_text(encoding='utf-8')
    pick = lambda c, frac: ss[(ss.cond == c) & ((ss.frac == frac) | (c in ('all', 'all2x')))].set_index('seed').macro_f1
    checked = 0
    for frac in sorted(set(ss.frac) - {1}):
        for a, b in (('semi', 'sup'), ('semi', 'self'), ('self', 'sup'), ('semi', 'sup2x'), ('sup2x', 'sup'), ('adv', 'sup'), ('semi_r0', 'sup'), ('semi_r0', 'semi'), ('all', 'semi'),
                     ('semi_pix', 'semi'), ('semi_pix', 'sup'), ('semi_pix', 'self'), ('semi_pix', 'sup2x'), ('sup_pix', 'sup'), ('semi_pix', 'sup_pix'), ('all', 'semi_pix'),
                     ('semi_pix_st', 'semi_pix'), ('semi_pix_st', 'sup'), ('fix_self', 'sup'), ('fix_semi', 'sup'), ('fix_semi', 'self'), ('fix_semi', 'fix_self'),
                     ('fix_self', 'self'), ('fix_semi', 'semi_pix'), ('fix_semi', 'sup2x'), ('all', 'fix_semi'), ('all2x', 'sup2x'),
                     ('semi_pix_cls', 'semi_pix'), ('semi_pix_cls', 'sup'), ('semi_pix_cls', 'self'), ('semi_qc', 'sup'), ('semi_qc', 'semi_pix')):
            d = (pick(a, frac) - pick(b, frac)).dropna()
            if len(d) < 2: continue
            want = f'{d.mean():+.4f} ± {d.std(ddof=1) / len(d) ** 0.5:.4f}'
            if (a, b) in (NB_SEMI_8 if frac == 8 else NB_SEMI): assert want in printed('28_semi', f'1/{frac} {a} - {b}:'), (frac, a, b, want)
            if frac == 8 and (a, b) in DONE_8: assert want in printed('28_semi', DONE_8[(a, b)]), (a, b, want)
            if (a, b) in README_SEMI: assert f'{want} (n={len(d)})' in readme, (frac, a, b, want)
            checked += 1
    assert checked >= 4

SEEDS = {'seeds 0-2': (0, 1, 2), 'seeds 3-5': (3, 4, 5), 'seeds 0-5': tuple(range(6)), 'seeds 6-11': tuple(range(6, 12)), 'seeds 0-11': tuple(range(12))}

def seed_pair_lines(df, pairs, readme_skip=(), unprinted=(), frac=8):
    """How many of `pairs` ((a, b, seed set)) have 28_semi's printed line and README's figure equal to the paired difference at 1/`frac`
    the per-run results `df` give (28_semi prints no line for those in `unprinted`, README none for those in `readme_skip`)."""
    readme, checked = (ROOT/'README.md').read_text(encoding='utf-8'), 0
    for a, b, used in pairs:
        pick = lambda k: df[(df.cond == k) & df.seed.isin(SEEDS[used]) & ((df.frac == frac) | df.cond.isin(['all', 'all2x']))].set_index('seed').macro_f1
        d = (pick(a) - pick(b)).dropna()
        if len(d) < len(SEEDS[used]): continue                              # a seed set not all run (seeds 0-5 with only 0-2): no line
        want = f'{d.mean():+.4f} ± {d.std(ddof=1) / len(d) ** 0.5:.4f}'
        if (a, b, used) not in unprinted: assert want in printed('28_semi', f'  {used} {a} - {b}:'), (used, a, b, want)
        if (a, b, used) not in readme_skip: assert f'{want} (n={len(d)})' in readme, (used, a, b, want)
        checked += 1
    return checked

def test_replication_lines_match_the_runs():
    "The pre-registered replication (seeds 3-5, and all six) in 28_semi and README is what the per-run results give, for the (c) validation chose on seeds 0-2."
    ss, rr = pd.read_csv(RESULTS/'semi_supervised.csv'), pd.read_csv(RESULTS/'semi_supervised_replication_runs.csv')
    assert set(ss.seed) == {0, 1, 2} and set(rr.seed) <= set(range(3, 12))   # the tables never see the replication seeds
    v = ss[(ss.frac == 8) & ss.cond.isin(['semi', 'semi_pix', 'semi_pix_st', 'fix_semi', 'semi_pix_cls'])].groupby('cond').val_macro_f1.mean()
    c = v.idxmax()
    pairs = [(a, b, used) for used in ('seeds 3-5', 'seeds 0-5') for a, b in ((c, 'sup'), (c, 'self'), ('self', 'sup'), ('all', c))]
    assert seed_pair_lines(pd.concat([ss, rr]), pairs, unprinted={x for x in pairs if x[2] == 'seeds 0-5'}) >= 2   # 28_semi prints the clean test

def test_long_lines_match_the_runs():
    "The longer runs (1200 steps; the test: semi_pix2x - sup2x on seeds 0-5) in 28_semi and README are what the per-run results give."
    df = all_runs()
    all6 = set(range(6)) <= set(df[df.cond == 'all2x'].seed)              # README gives (d) over six seeds once all six ran
    pairs = [('semi_pix2x', 'sup2x', 'seeds 0-5'), ('semi_pix2x', 'sup2x', 'seeds 3-5'), ('semi_pix2x', 'self2x', 'seeds 0-2'), ('semi_pix2x', 'sup4x', 'seeds 0-2'),
             ('all2x', 'semi_pix2x', 'seeds 0-2'), ('all2x', 'semi_pix2x', 'seeds 0-5'), ('adv2x', 'sup2x', 'seeds 0-2'), ('semi_pix2x', 'adv2x', 'seeds 0-2')]
    assert seed_pair_lines(df, pairs, readme_skip={('all2x', 'semi_pix2x', 'seeds 0-2' if all6 else 'seeds 0-5')}, unprinted={('all2x', 'semi_pix2x', 'seeds 0-2')}) >= 1
    cv = pd.read_csv(RESULTS/'semi_supervised_curves.csv')                  # the late fall: validation at step 800 minus 1200, mean over seeds 0-2
    for k in set(cv.cond) & {'adv2x', 'semi_pix2x', 'sup2x'}:
        v = cv[(cv.cond == k) & (cv.frac == 8)].pivot(index='seed', columns='step', values='val_f1')
        fall = (v[800] - v[1200]).mean()
        assert f'{k} {fall:+.3f}' in printed('28_semi', 'late fall'), (k, fall)
        if 'adv2x' in set(cv.cond): assert f'{fall:.3f}' in (ROOT/'README.md').read_text(encoding='utf-8'), (k, fall)

def all_runs()->pd.DataFrame:
    "Every run's row, seeds 0-11, as semi_supervised.py stores them."
    return pd.concat([pd.read_csv(RESULTS/'semi_supervised.csv'), pd.read_csv(RESULTS/'semi_supervised_replication_runs.csv')])

def chosen_on_validation(df, variants, line:str)->str:
    """The variant with the best mean validation macro F1 at 1/8 over seeds 0-2 among those run on all three, recomputed
    from the runs; checked against 28_semi's printed line that starts with `line` and README's figure."""
    v = df[(df.frac == 8) & df.seed.isin(SEEDS['seeds 0-2']) & df.cond.isin(variants)].groupby('cond').val_macro_f1.agg(['mean', 'count'])
    v = v[v['count'] == 3]['mean']; c = v.idxmax()
    assert f"validation chose {c} " in printed('28_semi', line) and f'`{c}` {v[c]:.4f}' in (ROOT/'README.md').read_text(encoding='utf-8')
    return c

def test_share_lines_match_the_runs():
    "A share, not a level (`pseudo_bar='share'`; the test: (c, share) - sup on seeds 0-5) in 28_semi and README is what the per-run results give, for the variant validation chose on seeds 0-2."
    df = all_runs()
    c = chosen_on_validation(df, ['semi_q', 'semi_q0'], 'a share, not a level')
    pairs = [(c, 'sup', 'seeds 0-5'), (c, 'sup', 'seeds 3-5'), (c, 'self_q', 'seeds 0-5'), ('self_q', 'sup', 'seeds 0-5'), (c, 'sup2x', 'seeds 0-5'), ('all', c, 'seeds 0-5')]
    assert seed_pair_lines(df, pairs) == len(pairs)

def test_fm_lines_match_the_runs():
    "s4GAN's feature matching (the test: (c, fm) - sup on seeds 0-5) in 28_semi and README is what the per-run results give, for the variant validation chose on seeds 0-2."
    df = all_runs()
    c = chosen_on_validation(df, ['semi_fm', 'fm'], "s4GAN's feature matching")
    pairs = [(c, 'sup', 'seeds 0-5'), (c, 'sup', 'seeds 3-5'), (c, 'self', 'seeds 0-5'), (c, 'sup2x', 'seeds 0-5'), ('all', c, 'seeds 0-5'), ('fm', 'adv', 'seeds 0-2'),
             ('fm', 'pool_d', 'seeds 0-2'), ('pool_d', 'sup', 'seeds 0-2'), ('fm', 'fm_rand', 'seeds 0-2'), ('fm_rand', 'sup', 'seeds 0-2')]
    pairs += [(a, b, 'seeds 0-5') for a, b, _ in pairs[-4:]]                  # the controls on six seeds, where they ran
    w = df[(df.frac == 8) & df.seed.isin(SEEDS['seeds 0-2']) & df.cond.isin(['fm', 'fm_w1', 'fm_w10'])].groupby('cond').val_macro_f1.agg(['mean', 'count'])
    w = w[w['count'] == 3]['mean'].idxmax()                                  # feature matching's weight, chosen on validation
    assert f'-> {w}' in printed('28_semi', "feature matching's weight")
    if w != 'fm': pairs += [(w, 'sup', 'seeds 0-5'), (w, 'fm', 'seeds 0-5'), (w, 'sup2x', 'seeds 0-5')]
    pairs += [('fm', 'sup', 'seeds 6-11'), ('all', 'fm', 'seeds 6-11'), ('fm', 'sup', 'seeds 0-11')]   # fm's replication on new seeds, once all ran
    have = lambda a, b, used: all(set(df[df.cond == k].seed) >= set(SEEDS[used]) for k in (a, b))
    wider = {p for p in pairs if p[2] == 'seeds 0-2' and have(p[0], p[1], 'seeds 0-5')}   # 28_semi and README give such a pair over six seeds
    assert seed_pair_lines(df, pairs, readme_skip=wider, unprinted=wider | {('fm', 'sup', 'seeds 0-11')}) == sum(have(*p) for p in pairs)

def test_fm_power_matches_the_runs():
    """README's bar for six seeds (2 SD / sqrt 6 of fm - sup over seeds 0-11; semi_supervised_power.csv) and fm's seconds per step
    against sup's, recomputed here from the per-run rows and the timings."""
    df, readme = all_runs(), (ROOT/'README.md').read_text(encoding='utf-8')
    pick = lambda k, frac=8: df[(df.cond == k) & (df.frac == frac)].set_index('seed').macro_f1
    d = pick('fm') - pick('sup')
    if d.notna().sum() == 12:
        sd = statistics.stdev(d.dropna()); gap = statistics.mean((pick('all', 1) - pick('sup')).dropna())
        assert f'standard deviation of {sd:.4f} over seeds 0–11 (n=12)' in readme and f'a mean above {2 * sd / 6 ** 0.5:.4f}' in readme, sd
        assert f'{2 * sd / 6 ** 0.5 / gap:.0%} of the whole gap from (a) to (d) ({gap:.4f}, n=12)' in readme, gap
        m = statistics.mean(d.dropna())
        if m > 0: assert f'would need about {math.ceil((2 * sd / m) ** 2)} seeds' in readme, m
    tm = pd.read_csv(RESULTS/'semi_supervised_time.csv').set_index('cond').s_per_step
    if 'fm' in tm: assert f"`fm` takes {tm['fm'] / tm['sup']:.2f} times (a)'s seconds per step" in readme

def test_fm_scarce_lines_match_the_runs():
    "`fm` at 1/32 (the test: fm - sup on seeds 0-5) in README is what the per-run results give, once its six seeds ran (28_semi prints none)."
    df = all_runs()
    pairs = [('fm', 'sup', 'seeds 0-5'), ('all', 'fm', 'seeds 0-5')]
    ran = len(set(df[(df.cond == 'fm') & (df.frac == 32)].seed) & set(SEEDS['seeds 0-5'])) == 6
    assert seed_pair_lines(df, pairs, unprinted=set(pairs), frac=32) == (2 if ran else 0)

def test_shift_lines_match_the_csv():
    "28_semi's printed paired differences for the other cohort, and README's, are what an independent computation from semi_shift.csv gives."
    sh = pd.read_csv(RESULTS/'semi_shift.csv')
    readme = (ROOT/'README.md').read_text(encoding='utf-8')
    checked = 0
    for col, metric in (('macro_f1', 'target test'), ('macro_f1_src', 'source test')):
        pick = lambda c: sh[sh.cond == c].set_index('seed')[col]
        for a, b in (('self', 'src'), ('semi_pix', 'src'), ('src2x', 'src'), ('semi_pix', 'src2x'), ('adv_pix', 'src'), ('semi_pix', 'self'), ('adv_pix', 'self'), ('semi_pix', 'adv_pix'),
                     ('oracle', 'src'), ('oracle', 'semi_pix'), ('semi_pix_cls', 'src'), ('semi_pix_cls', 'self'), ('semi_pix_cls', 'semi_pix')):
            d = (pick(a) - pick(b)).dropna()
            if len(d) < 2: continue
            want = f'{d.mean():+.4f} ± {d.std(ddof=1) / len(d) ** 0.5:.4f}'
            if metric == 'target test' and (a, b) not in {('semi_pix_cls', 'src'), ('semi_pix_cls', 'self')}:   # what 28_semi prints
                assert want in printed('28_semi', f'{metric} {a} - {b}:'), (metric, a, b, want)
            if metric == 'target test' and (a, b) in {('semi_pix', 'src'), ('semi_pix', 'src2x'), ('self', 'src'), ('adv_pix', 'src'), ('semi_pix', 'self'), ('oracle', 'src'),
                                                      ('semi_pix_cls', 'src'), ('semi_pix_cls', 'semi_pix'), ('semi_pix_cls', 'self')}:
                assert f'{want} (n={len(d)})' in readme, (a, b, want)
            checked += 1
    assert checked >= 4
