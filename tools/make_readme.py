"""Write README.md from nbs/index.ipynb (Quarto is not available offline, so nbconvert does it).

    python tools/make_readme.py           # write README.md
    python tools/make_readme.py --check   # exit 1 when README.md is stale

nbdev's cell directives are honoured: `#| hide` drops a cell, `#| echo: false` keeps only its output,
other `#|` lines are removed. Image outputs are dropped (README links committed images instead).

Measured numbers are never typed into index.ipynb: its Markdown holds placeholders such as `{{demo_table}}`, and
`numbers()` fills them from the files that hold the measurements (benchmarks/results/*). A new measurement changes
README.md (so `--check` fails until it is regenerated); a placeholder with no value is an error.
"""
import copy, re, sys
from pathlib import Path
import nbformat
from nbconvert import MarkdownExporter

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT/'benchmarks'/'results'
HEADER = '<!-- Generated from nbs/index.ipynb by tools/make_readme.py: edit the notebook, not this file. -->\n\n'
PLACEHOLDER = re.compile(r'\{\{(\w+)\}\}')

def md_table(name:str, first:str, after:str='')->list[dict]:
    "Rows (dicts of strings) of the Markdown table in results/`name` whose header starts with `first` (the first after `after`)."
    text = (RESULTS/name).read_text(encoding='utf-8')
    text = text[text.index(after):] if after else text
    lines = [l for l in text[text.index('| ' + first):].split('\n\n')[0].splitlines() if not l.startswith('|---')]
    head, *rows = [[c.strip() for c in l.strip().strip('|').split('|')] for l in lines]
    return [dict(zip(head, r)) for r in rows]

def table_text(name:str, first:str)->str:
    "The Markdown table of results/`name` whose header starts with `first`, verbatim."
    text = (RESULTS/name).read_text(encoding='utf-8')
    return text[text.index('| ' + first):].split('\n\n')[0].strip()

def mean(cell:str)->float: return float(cell.split('±')[0].replace(',', '').rstrip('x%'))
def budget(name:str)->str: return re.search(r'Budget: ([^;(]+)', (RESULTS/name).read_text(encoding='utf-8')).group(1).strip()
def listing(items)->str: items = list(items); return ', '.join(items[:-1]) + ' and ' + items[-1] if len(items) > 1 else ''.join(items)
def diff_text(r)->str: return f"{r['mean']:+.4f} ± {r.se:.4f} (n={r.seeds})"   # a row of a benchmark's paired-differences CSV
def named_diff(tab, used:str, comp:str, name:str)->str:
    "`name` and the paired difference `comp` on the seed set `used` of a (seeds_used, comparison)-indexed table; '' where it has none."
    return f"{name} {diff_text(tab.loc[(used, comp)])}" if (used, comp) in tab.index else ''
def mean_sd(v)->str: return f'{v.mean():.4f} ± {v.std(ddof=1):.4f}' if len(v) > 1 else f'{v.mean():.4f}'

def demo_numbers()->dict:
    import pandas as pd
    from sagan_seg.demo import TARGET, target_text
    runs = pd.read_csv(RESULTS/'demo_runs.csv').sort_values('seed')
    met = [all(r[k] >= v for k, v in TARGET.items()) for _, r in runs.iterrows()]
    machine = re.search(r'^Machine: (.*?)\s*$', (RESULTS/'demo_runs.md').read_text(encoding='utf-8'), re.M).group(1)
    figures = re.search(r'^Figures: (.*?)\s*$', (RESULTS/'demo_runs.md').read_text(encoding='utf-8'), re.M).group(1)
    return dict(demo_table=table_text('demo_runs.md', 'metric'), demo_machine=machine, figures_source=figures, demo_seeds=listing(str(s) for s in runs.seed),
                demo_minutes=listing(f'{m:g}' for m in runs.minutes_total), demo_steps=listing(f'{s:,}' for s in runs.steps),
                demo_budget_minutes=f'{runs.minutes_budget.iloc[0]:g}', target=target_text(),
                demo_target='**not met**' if not any(met) else f'met by {sum(met)} of {len(met)} seeds')

def budget_numbers()->dict:
    import pandas as pd
    from sagan_seg.demo import TARGET
    db, lines = pd.read_csv(RESULTS/'demo_budget.csv'), []
    for steps, g in db.groupby('steps'):
        runs = '; '.join(f"seed {r.seed}: macro F1 {r.macro_f1:.4f}, podocyte {r.f1_podocyte:.4f}, non-podocyte "
                         f"{r.f1_non_podocyte:.4f} (target {'met' if str(r.target_met) == 'True' else 'not met'})" for r in g.itertuples())
        both = (f"; over the {len(g)} seeds {mean_sd(g.macro_f1)} macro, {mean_sd(g.f1_podocyte)} podocyte and "
                f"{mean_sd(g.f1_non_podocyte)} non-podocyte" if len(g) > 1 else '')
        lines.append(f"- {g.x_demo.iloc[0]:g}x the demo's steps ({steps:,}, {listing(f'{m:g}' for m in g.minutes)} minutes of one "
                     f"thread on a shared machine): {runs}{both}.")
    return dict(budget_runs='\n'.join(lines))

def ablation_numbers()->dict:
    out = dict(steps_budget=budget('ablation_steps.md'), time_budget=budget('ablation.md'))
    for key, name in (('steps', 'ablation_steps.md'), ('time', 'ablation.md')):
        t = {r['variant']: r for r in md_table(name, 'variant')}
        unet, sagan = t['residual U-Net (no attention, no GAN)'], t['SAGAN (attention + GAN)']
        out[f'{key}_macro'] = '; '.join(f"{v} {r['macro F1']}" for v, r in t.items())
        out[f'{key}_sagan_unet'] = (f"podocyte F1 {mean(sagan['podocyte F1']):.4f} vs {mean(unet['podocyte F1']):.4f}, non-podocyte F1 "
                                    f"{mean(sagan['non-podocyte F1']):.4f} vs {mean(unet['non-podocyte F1']):.4f}, macro F1 "
                                    f"{sagan['macro F1']} vs {unet['macro F1']}, at {sagan['steps (mean)']} vs {unet['steps (mean)']} steps")
    ko = [abs(mean(r['macro F1']) - float(r['macro F1, gates = 0'])) for name in ('ablation_steps.md', 'ablation.md')
          for r in md_table(name, 'variant') if r['macro F1, gates = 0']]
    share = [mean(r['adv_share']) for r in md_table('gan_game.md', 'candidate')]
    return {**out, 'knockout': f'{max(ko):.4f}', 'adv_share': f'{min(share):.1%} to {max(share):.1%}'}

def context_numbers()->dict:
    import pandas as pd
    cs = pd.read_csv(RESULTS/'context_sweep.csv')
    d = cs.pivot_table(index=['deciding_px', 'seed'], columns='variant', values='macro_f1').dropna()
    d = (d['U-Net + attention'] - d['residual U-Net']).groupby(level=0)
    pod = cs[cs.variant == 'residual U-Net'].groupby('deciding_px').f1_podocyte.mean()
    return dict(context_rf=f'{cs.rf_radius_px.iloc[0]:g}', context_steps=f'{cs.steps.max():g}', context_seeds=f'{cs.seed.nunique()}',
                context_diff=listing(f'{m:+.3f} ± {s:.3f} at {px:g} px' for px, m, s in zip(d.mean().index, d.mean(), d.std())),
                context_podocyte=' → '.join(f'{v:.2f}' for v in pod.iloc[:2]), context_gamma=f'{cs.gamma_end.abs().max():.2f}')

def control_numbers()->dict:
    "The attention controls (benchmarks/results/context_controls.csv): paired differences against the plain U-Net."
    import pandas as pd
    cc = pd.read_csv(RESULTS/'context_controls.csv')
    far, near = cc.deciding_px.max(), cc.deciding_px.min()
    def pair(col, a, dpx, b='plain U-Net'):
        w = cc[cc.deciding_px == dpx].pivot_table(index='seed', columns='variant', values=col)
        d = (w[a] - w[b]).dropna()
        return f'{d.mean():+.3f} ± {d.std(ddof=1) / len(d) ** 0.5:.3f} (n={len(d)})'
    ko = cc[(cc.deciding_px == far) & (cc.variant == 'position-aware attention')].knockout_drop
    pko = cc[(cc.deciding_px == far) & (cc.variant == 'paper attention')].knockout_drop
    att = cc[(cc.deciding_px == far) & (cc.variant == 'position-aware attention')]
    return dict(ctl_far=f'{far:g}', ctl_near=f'{near:g}', ctl_steps=f'{cc.steps.max():,}',
                ctl_pos=pair('nuclei_f1', 'position-aware attention', far), ctl_paper=pair('nuclei_f1', 'paper attention', far),
                ctl_posonly=pair('nuclei_f1', 'position only', far), ctl_dilated=pair('nuclei_f1', 'dilated U-Net', far),
                ctl_ko=f'{ko.mean():.3f} ± {ko.std(ddof=1) / len(ko) ** 0.5:.3f}', ctl_paper_ko=f'{pko.abs().max():.3f}',
                ctl_within=f'{att.attn_within_1p5d.mean():.2f}', ctl_uniform=f'{att.uniform_within_1p5d.mean():.2f}',
                ctl_near_macro=pair('macro_f1', 'position-aware attention', near),
                ctl_chosen=cc[(cc.deciding_px == far) & cc.variant.isin(['position-aware attention', 'position only'])]
                           .groupby('variant').val_macro_f1.mean().idxmax())

def recipe_numbers()->dict:
    "The recipes at equal steps (benchmarks/results/recipes.csv): the choice on validation, paired test differences, TTA."
    import pandas as pd
    rc = pd.read_csv(RESULTS/'recipes.csv')
    rc = rc[rc.steps == rc[rc.recipe == 'old'].steps.min()]
    chosen = re.search(r'\*\*Chosen on validation\*\* at .*?: `(.+?)`', (RESULTS/'recipes.md').read_text(encoding='utf-8')).group(1)
    pairs = {(r['recipe'], int(r['steps'])): r for r in md_table('recipes.md', 'recipe', after='Paired differences')}   # the benchmark's own computation
    paired = lambda rec: pairs[(rec, int(rc.steps.iloc[0]))]['macro_f1 - old']
    multi = [r for r, g in rc.groupby('recipe') if r != 'old' and g.seed.nunique() > 1]
    se = lambda d: f'{d.mean():+.4f} ± {d.std(ddof=1) / len(d) ** 0.5:.4f}'
    cost = pd.read_csv(RESULTS/'tta_cost.csv').groupby('mode').seconds.median()
    db = pd.read_csv(RESULTS/'demo_budget.csv')
    met = db[db.target_met.astype(str) == 'True']
    full = pd.read_csv(RESULTS/'recipes.csv')
    long = full[(full.steps > rc.steps.iloc[0]) & (full.recipe == chosen)]
    old_need = db[db.target_met.astype(str) == 'True'].steps.min()
    long_runs = listing(f"{r.steps:,} steps, seed {r.seed}: macro F1 {r.macro_f1:.4f}, podocyte {r.f1_podocyte:.4f}, non-podocyte {r.f1_non_podocyte:.4f} "
                        f"(target {'met' if str(r.target_met) == 'True' else 'not met'}; with TTA {r.tta_macro_f1:.4f}, "
                        f"{'met' if str(r.tta_target_met) == 'True' else 'not met'})" for r in long.itertuples())
    first_on = lambda d: d[d.target_met.astype(str) == 'True'].groupby('seed').steps.min()   # the first steps on target, per seed
    old_on, new_on, old_max = first_on(db), first_on(long), db.groupby('seed').steps.max()
    def seed_verdict(s):
        n = long[long.seed == s].steps.max()
        if s in new_on.index and s in old_on.index:
            return f"seed {s} on target at {new_on[s]:,} steps, {new_on[s] / old_on[s]:.2f} of the old recipe's {old_on[s]:,}"
        if s in new_on.index: return f"seed {s} on target at {new_on[s]:,} steps, the old recipe not by {old_max.get(s, 0):,}"
        if s in old_on.index: return f"seed {s} not on target by {n:,} steps, the old recipe at {old_on[s]:,}"
        return f"seed {s} on target with neither (the new recipe by {n:,} steps, the old by {old_max.get(s, 0):,})"
    verdict = '; '.join(seed_verdict(s) for s in sorted(set(long.seed)))
    return dict(long_steps=listing(f'{n:,}' for n in sorted(set(long.steps))) if len(long) else 'n/a', long_runs=long_runs or 'not run',
                long_verdict=verdict, old_need=f'{old_need:,}',
                recipe_n=f'{rc.recipe.nunique() - 1}', recipe_steps=f'{rc.steps.iloc[0]:,}', recipe_chosen=chosen,
                recipe_seeds=listing(str(s) for s in sorted(rc[rc.recipe == 'old'].seed)),
                recipe_pairs=listing(f'`{r}` {paired(r)} (n={pairs[(r, int(rc.steps.iloc[0]))]["seeds"]})' for r in multi),
                tta_val=se((rc.val_tta_best_macro_f1 - rc.val_best_macro_f1).dropna()), tta_test=se(rc.tta_macro_f1 - rc.macro_f1),
                tta_runs=f'{len(rc)}', tta_cost=f'{cost["tta"] / cost["plain"]:.1f}x',
                budget_ratio=f'{met.x_demo.min():g}x' if len(met) else 'more than the longest run\'s')

def semi_numbers()->dict:
    "Semi-supervised training (benchmarks/results/semi_supervised*.csv): the paired differences as the benchmark computed them, and the criteria."
    import pandas as pd
    ss, pr = pd.read_csv(RESULTS/'semi_supervised.csv'), pd.read_csv(RESULTS/'semi_supervised_pairs.csv')
    pr = pr[pr.metric == 'test'].set_index(['frac', 'comparison'])
    def pair(frac, comp):
        if (frac, comp) not in pr.index or pr.loc[(frac, comp)].seeds < 2: return None
        return diff_text(pr.loc[(frac, comp)])
    # (c) is the image-level D's tile selection or the pixel D's, whichever validation prefers (paired over seeds, at 1/8)
    ch = pd.read_csv(RESULTS/'semi_supervised_choice.csv')
    c = ch[ch.chosen].cond.iloc[0]
    names = {'semi - sup': 'image-level D-driven (c) minus supervised (a)', 'semi - self': 'that (c) minus plain self-training (b)',
             'self - sup': '(b) minus (a)', 'semi - sup2x': 'that (c) minus (a) at equal time (twice the steps)', 'sup2x - sup': '(a) at twice the steps minus (a)',
             'adv - sup': "D's adversarial term alone, no pseudo-labels, minus (a)", 'semi_r0 - semi': "D's bar lowered to its least real labeled pair, minus (c)",
             'all - semi': 'all labels (d) minus (c)',
             'semi_pix - semi': 'a pixel D (its score map selects pixels) minus the image-level D', 'sup_pix - sup': '(a) with the pixel D minus (a)',
             'semi_pix_st - semi_pix': "the pixel D shown G's argmax instead of its softmax, minus the pixel D",
             'fix_semi - sup': 'pixel D with two views (`fix_semi`) minus (a)', 'fix_semi - fix_self': '`fix_semi` minus self-training with two views (`fix_self`)',
             'fix_self - self': '`fix_self` minus (b)', 'fix_semi - sup2x': '`fix_semi` minus (a) at equal time', 'all - fix_semi': '(d) minus `fix_semi`',
             'semi_pix - sup': 'the pixel-D (c) minus (a)', 'semi_pix - self': 'the pixel-D (c) minus (b)', 'all - semi_pix': '(d) minus the pixel-D (c)',
             'all2x - sup2x': 'all labels minus 1/8 of them, both at twice the steps',
             'semi_pix_cls - semi_pix': 'a bar per class (`semi_pix_cls`) minus one bar', 'semi_pix_cls - sup': '`semi_pix_cls` minus (a)',
             'semi_pix_cls - self': '`semi_pix_cls` minus (b)'}
    fracs = sorted({f for f, _ in pr.index}, key=lambda f: -int(f.split('/')[1]))
    lines = '\n'.join(f'- at {f} of the labels: ' + '; '.join(f'{n} {pair(f, k)}' for k, n in names.items() if pair(f, k)) + '.' for f in fracs)
    r8 = pr.loc[('1/8', f'{c} - sup')]
    beats_b = ('1/8', f'{c} - self') in pr.index and pr.loc[('1/8', f'{c} - self')].beyond_2se and pr.loc[('1/8', f'{c} - self')]['mean'] > 0
    gap = pr.loc[('1/8', f'all - {c}')]['mean'] if ('1/8', f'all - {c}') in pr.index else float('nan')
    last = ss[(ss.cond == c) & (ss.frac == 8)]
    which = (f"(c) here is `{c}`, the variant of the discriminator-driven run with the best mean validation macro F1 at 1/8 "
             f"(of {listing(f'`{r.cond}` {r.val_macro_f1:.4f}' for r in ch.itertuples())}). ") if len(ch) > 1 else ''
    verdict = (f"{which}At 1/8 of the labels (c) minus (a) is {pair('1/8', f'{c} - sup')}: (c) {'beats' if r8.beyond_2se and r8['mean'] > 0 else 'does not beat'} (a) by more than twice the "
               f"standard error of the paired differences, and {'beats' if beats_b else 'does not beat'} (b) by that margin ({pair('1/8', f'{c} - self')}); the goal, "
               f"(c) within 0.01 of (d), is {'reached' if gap < 0.01 else 'not reached'} (gap {gap:+.4f}). At the last epoch (c) trusted "
               f"{last.last_semi_trusted.mean():.1%} of the unlabeled pixels; on their non-background pixels the pseudo-labels were "
               f"{last.last_semi_pseudo_acc_fg.mean():.1%} right, and G's argmax on all unlabeled pixels {last.last_semi_acc_all.mean():.1%} "
               '(means over seeds; the curves are in `28_semi`).')
    short = (f"at 1/8 of the labels, (c) minus (a) is {pair('1/8', f'{c} - sup')} and (c) minus (b) {pair('1/8', f'{c} - self')} in test macro F1; "
             f"(a) given (c)'s minutes (twice the steps) instead: (c) minus it {pair('1/8', f'{c} - sup2x')} (below).")
    flags = {'semi': '--pseudo disc', 'semi_pix': '--pseudo disc --disc-output pixel', 'fix_semi': '--pseudo disc --disc-output pixel --pseudo-views weak_strong',
             'semi_pix_cls': '--pseudo disc --disc-output pixel --pseudo-bar class'}
    small = [f"{'the image-level' if k == 'semi' else 'the pixel'} D's run minus (a) {pair('1/32', f'{k} - sup')}" for k in ('semi', 'semi_pix') if pair('1/32', f'{k} - sup')]
    small = f"With fewer labels (1/32), where (d) is far ahead: {listing(small)}." if small else ''
    rep = pd.read_csv(RESULTS/'semi_supervised_replication.csv') if (RESULTS/'semi_supervised_replication.csv').is_file() else pd.DataFrame()
    replication = ''
    if len(rep):
        rp = rep.set_index(['seeds_used', 'comparison'])
        what = {f'{c} - sup': '(c) minus (a)', f'{c} - self': '(c) minus (b)', 'self - sup': '(b) minus (a)', f'all - {c}': '(d) minus (c)'}
        say = lambda used: '; '.join(f"{n} {diff_text(rp.loc[(used, k)])}" for k, n in what.items() if (used, k) in rp.index)
        r = rp.loc[('seeds 3-5', f'{c} - sup')] if ('seeds 3-5', f'{c} - sup') in rp.index else None
        met = r is not None and r.beyond_2se and r['mean'] > 0
        replication = (f"A replication fixed before its runs (seeds 3–5 of `sup`, `self`, `all` and `{c}`, no more whatever they showed) gives "
                       f"{say('seeds 3-5')}: the criterion {'is met' if met else 'is not met'} on the new seeds alone. Over all six seeds "
                       f"(not a clean test: the replication followed the first result): {say('seeds 0-5')}.")
    lg = pd.read_csv(RESULTS/'semi_supervised_long.csv') if (RESULTS/'semi_supervised_long.csv').is_file() else pd.DataFrame()
    long = ''
    if len(lg):
        lp = lg.set_index(['seeds_used', 'comparison'])
        say = lambda used, k, n: named_diff(lp, used, k, n)
        t = lp.loc[('seeds 0-5', 'semi_pix2x - sup2x')] if ('seeds 0-5', 'semi_pix2x - sup2x') in lp.index else None
        d6 = 'seeds 0-5' if ('seeds 0-5', 'all2x - semi_pix2x') in lp.index else 'seeds 0-2'
        rest = listing(x for x in (say('seeds 0-2', 'semi_pix2x - self2x', 'it minus (b) at 1,200 steps'), say('seeds 0-2', 'semi_pix2x - sup4x', 'it minus (a) at 2,400 steps (its minutes)'))
                       if x)
        how = ('it beats (a) by more than twice the standard error' if t['mean'] > 0 else 'it is below (a) by more than twice the standard error') \
              if t is not None and t.beyond_2se else 'within twice the standard error: it does not beat (a)'
        long = (f"Longer runs, fixed before their runs (at 600 steps every run is still learning): at 1,200 steps the pixel-D (c) "
                f"{say('seeds 0-5', 'semi_pix2x - sup2x', 'minus (a) is')} over seeds 0–5 ({say('seeds 3-5', 'semi_pix2x - sup2x', 'seeds 3–5 alone:')}), "
                f"{how}. {'On seeds 0–2, ' + rest + '; ' if rest else ''}(d) at 1,200 steps minus it "
                f"{say(d6, 'all2x - semi_pix2x', '').strip()}{' over seeds 0–5' if d6 == 'seeds 0-5' else ' on seeds 0–2'}.")
        if ('seeds 0-2', 'adv2x - sup2x') in lp.index:                  # what makes the longer runs fall late (fixed before its runs)
            fall = pd.read_csv(RESULTS/'semi_supervised_late_fall.csv').set_index('cond').late_fall
            long += (f" D's adversarial term on the pool alone at 1,200 steps (`adv2x`): {say('seeds 0-2', 'adv2x - sup2x', 'minus (a)')}, "
                     f"{say('seeds 0-2', 'semi_pix2x - adv2x', '(c) minus it')}; its late fall, validation macro F1 at step 800 minus at 1,200, is "
                     f"{fall['adv2x']:+.3f} (`semi_pix2x` {fall['semi_pix2x']:+.3f}, `sup2x` {fall['sup2x']:+.3f}; means over seeds 0–2).")
    return dict(semi_steps=f"{int(ss[~ss.cond.str.endswith(('2x', '4x'))].steps.max()):,}", semi_long=long, semi_seeds=listing(str(s) for s in sorted(ss.seed.unique())),
                semi_lines=lines, semi_verdict=verdict, semi_readme=short, semi_flags=flags.get(c, '--pseudo disc'), semi_small=small,
                semi_replication=replication)

def preregistered(name:str):
    """A pre-registered set of semi_supervised.py runs: its paired differences (benchmarks/results/semi_supervised_`name`.csv,
    indexed by seed set and comparison), its choice on validation (`_choice.csv`) and the condition chosen; None before the runs."""
    import pandas as pd
    if not (RESULTS/f'semi_supervised_{name}.csv').is_file(): return None
    tab = pd.read_csv(RESULTS/f'semi_supervised_{name}.csv').set_index(['seeds_used', 'comparison'])
    ch = pd.read_csv(RESULTS/f'semi_supervised_{name}_choice.csv')
    return (tab, ch, ch[ch.chosen].cond.iloc[0]) if len(tab) and len(ch) else None

def beyond(tab, comp:str, used:str='seeds 0-5')->bool: return (used, comp) in tab.index and bool(tab.loc[(used, comp)].beyond_2se)

def test_verdict(tab, comp:str, used:str='seeds 0-5')->str:
    "What a pre-registered test's paired difference `comp` (on `used` of a (seeds_used, comparison)-indexed table) says against the criterion."
    if not beyond(tab, comp, used): return 'within twice the standard error: it does not beat (a)'
    return 'more than twice the standard error above (a): the criterion is met' if tab.loc[(used, comp)]['mean'] > 0 else 'more than twice the standard error below (a)'

def test_sentence(tab, ch, c:str)->str:
    "The choice on validation and the six-seed test (c) - (a), with its seeds 3-5 half and its verdict."
    return (f"(of {listing(f'`{r.cond}` {r.val_macro_f1:.4f}' for r in ch.itertuples())}); (c) {named_diff(tab, 'seeds 0-5', f'{c} - sup', 'minus (a) is')} "
            f"over seeds 0–5 ({named_diff(tab, 'seeds 3-5', f'{c} - sup', 'seeds 3–5 alone:')}) at 600 steps, {test_verdict(tab, f'{c} - sup')}")

def share_numbers()->dict:
    "A share, not a level (benchmarks/results/semi_supervised_share*.csv, fixed before its runs): the test, its controls, the choice; '' before the runs."
    got = preregistered('share')
    if got is None: return dict(semi_share='')
    sp, ch, c = got
    say = lambda k, n, used='seeds 0-5': named_diff(sp, used, k, n)
    rest = listing(x for x in (say(f'{c} - self_q', "minus self-training at the same share ranked by G's own confidence (`self_q`)"), say('self_q - sup', '`self_q` minus (a)'),
                               say(f'{c} - sup2x', 'minus (a) at twice the steps (equal time)'), say(f'all - {c}', '(d) minus it'),
                               say('semi_qc - sup', 'ranked within each class G predicts (`semi_qc`, seeds 0–2), minus (a)', 'seeds 0-2')) if x)
    why = (' G\'s confidence at the same share neither helps nor hurts, so the share is not what hurts: D\'s ranking is.'
           if beyond(sp, f'{c} - self_q') and sp.loc[('seeds 0-5', f'{c} - self_q')]['mean'] < 0 and not beyond(sp, 'self_q - sup') else '')
    what = {'semi_q': 'with', 'semi_q0': 'without'}
    return dict(semi_share=(
        f"A share, not a level (fixed before its runs): the top half of the pool's pixels by the pixel D's score as pseudo-labels "
        f"(`--pseudo-bar share`), so that a D that wins still ranks. Validation chose `{c}`, {what.get(c, 'with')} D's adversarial term on the pool "
        f"{test_sentence(sp, ch, c)}; {rest}.{why}"))

def fm_numbers()->dict:
    "s4GAN's feature matching (benchmarks/results/semi_supervised_fm*.csv, fixed before its runs): the test, its controls, the choice; '' before the runs."
    import pandas as pd
    got = preregistered('fm')
    if got is None: return dict(semi_fm='')
    fp, ch, c = got
    say = lambda k, n, used='seeds 0-5': named_diff(fp, used, k, n)
    sure = lambda k: ' (beyond twice the standard error)' if beyond(fp, k) else ''
    tm = pd.read_csv(RESULTS/'semi_supervised_time.csv').set_index('cond').ratio_to_sup   # seconds per step, measured alone (--time)
    equal = f"equal time: `{c}` takes {tm[c]:.2f} times (a)'s seconds per step, measured alone" if c in tm.index else 'equal time'
    rest = listing(x for x in (say(f'{c} - self', 'minus (b)') + sure(f'{c} - self'), say(f'{c} - sup2x', f'minus (a) at twice the steps ({equal})'),
                               say(f'all - {c}', '(d) minus it'),
                               say('fm - adv', "as the pool's only D signal, feature matching minus the hinge term (`fm` minus `adv`, seeds 0–2)", 'seeds 0-2')) if x)
    what = {'semi_fm': 'with', 'fm': 'without'}
    widest = lambda k: 'seeds 0-5' if ('seeds 0-5', k) in fp.index else 'seeds 0-2'     # a control on the seeds it ran
    rand = listing(x for x in (say('fm - fm_rand', f"`fm` minus the same term through a never-trained D (`fm_rand`, {widest('fm - fm_rand').replace('-', '–')})", widest('fm - fm_rand')),
                               say('fm_rand - sup', '`fm_rand` minus (a)', widest('fm_rand - sup')),
                               say('fm - pool_d', f"`fm` minus the pool in D's game only, no term of G's on it (`pool_d`, {widest('fm - pool_d').replace('-', '–')})", widest('fm - pool_d')),
                               say('pool_d - sup', '`pool_d` minus (a)', widest('pool_d - sup'))) if x)
    wc = pd.read_csv(RESULTS/'semi_supervised_fmw_choice.csv') if (RESULTS/'semi_supervised_fmw_choice.csv').is_file() else pd.DataFrame()
    weight = ''
    if len(wc) > 1:
        w = wc[wc.chosen].cond.iloc[0]
        weight = (f" Its weight, chosen on validation among 0.1, 1 and 10 (of {listing(f'`{r.cond}` {r.val_macro_f1:.4f}' for r in wc.itertuples())}): "
                  + ("`fm`'s 0.1 stays, so its test above stands." if w == 'fm' else
                     f"`{w}`; it {say(f'{w} - sup', 'minus (a) is')} over seeds 0–5, {test_verdict(fp, f'{w} - sup')}; "
                     + listing(x for x in (say(f'{w} - fm', 'minus `fm`'), say(f'{w} - sup2x', 'minus (a) at twice the steps')) if x) + '.'))
    fresh = ''
    if ('seeds 6-11', 'fm - sup') in fp.index and fp.loc[('seeds 6-11', 'fm - sup')].seeds == 6:   # the replication, once all its runs are in
        fresh = (f" A replication on seeds no run had touched (fixed before its runs: `sup`, `fm` and `all` on seeds 6–11, no more whatever "
                 f"they showed): `fm` {say('fm - sup', 'minus (a) is', 'seeds 6-11')}, {test_verdict(fp, 'fm - sup', 'seeds 6-11').replace('it does', '`fm` does')}"
                 f"; {say('all - fm', '(d) minus it', 'seeds 6-11')}. Over seeds 0–11 (not a clean test): {say('fm - sup', '`fm` minus (a)', 'seeds 0-11')}."
                 + fm_power())
    return dict(semi_fm=(
        f"s4GAN's feature matching (fixed before its runs): G's pairs on the pool matched to real pairs in D's features, on average over the batch "
        f"(`--lambda-fm-u 0.1`, s4GAN's weight), with (`semi_fm`) or without (`fm`) self-training on the tiles D trusts. Validation chose `{c}`, "
        f"{what.get(c, 'with')} self-training {test_sentence(fp, ch, c)}; {rest}."
        + (f' Is it what D learnt? {rand}.' if rand else '') + weight + fresh + fm_scarce()))

def fm_scarce()->str:
    "`fm` where labels are scarcest (benchmarks/results/semi_supervised_fm32.csv, fixed before its runs), once its six seeds are in; '' before."
    import pandas as pd
    if not (RESULTS/'semi_supervised_fm32.csv').is_file(): return ''
    f = pd.read_csv(RESULTS/'semi_supervised_fm32.csv').set_index(['seeds_used', 'comparison'])
    if ('seeds 0-5', 'fm - sup') not in f.index or f.loc[('seeds 0-5', 'fm - sup')].seeds < 6: return ''
    r = f.loc[('seeds 0-5', 'fm - sup')]
    how = f"more than twice the standard error {'above' if r['mean'] > 0 else 'below'} (a)" if r.beyond_2se else 'within twice the standard error of (a)'
    return (f" Where labels are scarcest (fixed before its runs; the criterion is stated at 1/8): at 1/32 of the labels (eight tiles) `fm` "
            f"{named_diff(f, 'seeds 0-5', 'fm - sup', 'minus (a) is')} over seeds 0–5, {how}; {named_diff(f, 'seeds 0-5', 'all - fm', '(d) minus it')}.")

def fm_power()->str:
    "What the criterion asks of six seeds (benchmarks/results/semi_supervised_power.csv): the bar against the gap (a) to (d); '' before the runs."
    import pandas as pd
    pw = pd.read_csv(RESULTS/'semi_supervised_power.csv') if (RESULTS/'semi_supervised_power.csv').is_file() else pd.DataFrame()
    if not len(pw): return ''
    r = pw.iloc[0]
    need = f"; a gain the size of the twelve-seed mean would need about {int(r.seeds_needed)} seeds to clear it" if pd.notna(r.seeds_needed) else ''
    return (f" The paired differences `fm` minus (a) have a standard deviation of {r.sd:.4f} over seeds 0–11 (n={int(r.seeds)}): at six seeds the criterion "
            f"asks for a mean above {r.bar_at_6_seeds:.4f}, {r.bar_share_of_gap:.0%} of the whole gap from (a) to (d) ({r.gap_all_sup:.4f}, n={int(r.gap_seeds)}){need}.")

def shift_numbers()->dict:
    "Semi-supervised adaptation to another cohort (benchmarks/results/semi_shift*.csv): target-test paired differences and the verdict."
    import pandas as pd
    sh, pr = pd.read_csv(RESULTS/'semi_shift.csv'), pd.read_csv(RESULTS/'semi_shift_pairs.csv')
    pr = pr[(pr.metric == 'target test') & (pr.seeds > 1)].set_index('comparison')
    names = {'semi_pix - src': "the pixel-D (c) minus (a)", 'semi_pix - src2x': '(c) minus (a) at twice the steps (equal time)', 'self - src': '(b) minus (a)', 'adv_pix - src': "D's adversarial term alone minus (a)",
             'semi_pix - self': '(c) minus (b)', 'oracle - src': 'target labels (d) minus (a)',
             'semi_pix_cls - src': 'a bar per class (`semi_pix_cls`) minus (a)', 'semi_pix_cls - semi_pix': '`semi_pix_cls` minus one bar (c)',
             'semi_pix_cls - self': '`semi_pix_cls` minus (b)'}
    pair = lambda k: diff_text(pr.loc[k])
    lines = '; '.join(f'{n} {pair(k)}' for k, n in names.items() if k in pr.index)
    rel = lambda k, what: (f"{'is ahead of' if pr.loc[k]['mean'] > 0 else 'is below'} {what}, "
                           f"{'beyond' if pr.loc[k].beyond_2se else 'within'} twice the standard error") if k in pr.index else f'was not compared with {what}'
    src = sh[sh.cond == 'src'].set_index('seed')
    verdict = (f"Supervised on the labeled cohort scores {(src.macro_f1_src - src.macro_f1).mean():.4f} lower on the other cohort's test than on "
               f"its own (mean over seeds). On the other cohort the discriminator-driven (c) {rel('semi_pix - src', '(a)')}, and "
               f"{rel('semi_pix - self', 'plain self-training (b)')}; (d), with target labels, {rel('oracle - src', '(a)')}.")
    j = pd.read_csv(RESULTS/'semi_shift_judge.csv')
    j = j[j.cond == 'semi_pix'].mean(numeric_only=True)
    judge = (f"D is not fooled by the cohort: true target maps pass its bar on {j.tgt_true_pass:.0%} of their pixels, true source maps on "
             f"{j.src_true_pass:.0%}. But of the pixels of G's target maps that pass, {j.tgt_g_pass_fg:.0%} are not background (of all pixels: "
             f"{j.tgt_fg:.0%}), and they are {j.tgt_g_pass_acc:.1%} right, against {j.tgt_g_acc:.1%} for all of G's target pixels (means over seeds, "
             "`--judge`): D's bar favours the glomerular regions, where G's errors are.")
    jc = pd.read_csv(RESULTS/'semi_shift_judge.csv')
    jc = jc[jc.cond == 'semi_pix_cls'].mean(numeric_only=True)
    if jc.notna().any():
        judge += (f" With a bar per class (`semi_pix_cls`), {jc.tgt_g_pass:.0%} of G's target pixels pass, {jc.tgt_g_pass_fg:.0%} of them not background, "
                  f"{jc.tgt_g_pass_acc:.1%} right (all of G's: {jc.tgt_g_acc:.1%}).")
    return dict(shift_lines=lines or 'not run', shift_seeds=listing(str(s) for s in sorted(sh.seed.unique())), shift_verdict=verdict, shift_judge=judge)

def annotation_numbers()->dict:
    "The annotation readers' memory (benchmarks/results/annotation_memory.csv): added memory / file size at the largest file."
    import pandas as pd
    am = pd.read_csv(RESULTS/'annotation_memory.csv')
    big = am[am.file_mb == am.file_mb.max()].set_index('format')
    return dict(ann_mb=f'{am.file_mb.max():g}', ann_xml=f"{big.added_per_file_mb['xml']:.1f}", ann_geojson=f"{big.added_per_file_mb['geojson']:.1f}")

def bench_numbers()->dict:
    att = {(r['map'], r['pass']): r for r in md_table('attention.md', 'map')}
    a64, a128 = att[('64x64', 'fwd+bwd')], att[('128x128', 'fwd+bwd')]
    pr = {(r['precision'], r['layout']): r for r in md_table('precision.md', 'precision')}
    num = md_table('precision.md', '', after='bf16 against fp32')[0]
    inf = {(r['model'], r['tile / overlap']): r for r in md_table('inference.md', 'model')}
    mem = {r['slide (px)']: r for r in md_table('inference.md', 'slide (px)')}
    mo = {r['method']: r for r in md_table('inference_vs_monai.md', 'method')}
    growth = re.findall(r'- (\S+(?: \S+)?): (\d+) bytes per extra slide pixel', (RESULTS/'inference_vs_monai.md').read_text(encoding='utf-8'))
    monai = [mean(r['time vs predict_slide batch 4']) for m, r in mo.items() if m.startswith('MONAI')]
    return dict(attn_memory=a64['memory ratio'], attn_naive=f"{mean(a64['naive peak MiB']):.0f}", attn_eff=f"{mean(a64['efficient peak MiB']):.0f}",
                attn_speed=a64['speed-up: median (min)'].split()[0], attn_128=f"{mean(a128['efficient peak MiB']):.0f}",
                channels_last=f"{float(pr[('fp32', 'channels_last')]['speedup']):.2f}x",
                bf16=f"{float(pr[('bf16', 'contiguous')]['speedup']):.2f}x",
                bf16_f1=f"{abs(float(num['f1_bf16']) - float(num['f1_fp32'])):.4f}",
                slide_overhead=inf[('demo', '256 / 64')]['overhead on the same tiles'].split()[0],
                slide_peak=mem['20,000 x 20,000']['peak RSS MiB'],
                monai_time=f'{min(monai):.2f}x-{max(monai):.2f}x',
                monai_bytes=' vs '.join(b for _, b in growth),
                nchw=mo['predict_slide, batch 4, model fed NCHW-contiguous']['time vs predict_slide batch 4'])

PART_II = 21   # the first notebook of Part II (real slides)

def reading_order()->dict:
    "The notebooks' table, from each notebook's own `#| default_exp` and first Markdown cell (title and summary)."
    import json
    rows = {1: [], 2: []}
    for nb in sorted((ROOT/'nbs').glob('[0-9][0-9]_*.ipynb')):
        cells = json.loads(nb.read_text(encoding='utf-8'))['cells']
        src = lambda c: ''.join(c['source'])
        mod = next((m.group(1) for c in cells if (m := re.search(r'^#\|\s*default_exp\s+(\S+)', src(c), re.M))), '')
        md = [l for l in src(next(c for c in cells if c['cell_type'] == 'markdown')).splitlines() if l.strip()]
        title, summary = md[0].lstrip('# ').strip(), (md[1][1:].strip() if len(md) > 1 and md[1].startswith('>') else '')
        rows[1 if int(nb.name[:2]) < PART_II else 2].append(f"| `{nb.stem}` | `{mod}` | **{title}**: {summary.replace('|', '/')} |")
    head = ['| notebook | module | its one idea |', '|---|---|---|']
    return dict(reading_order='\n'.join(['**Part I: the model and its lesson**', '', *head, *rows[1], '',
                                          '**Part II: real slides**', '', *head, *rows[2]]))

def numbers()->dict:
    "Every placeholder's text, read from benchmarks/results (and the notebooks' titles, for the reading order)."
    return {**demo_numbers(), **budget_numbers(), **ablation_numbers(), **context_numbers(), **control_numbers(), **recipe_numbers(), **semi_numbers(), **share_numbers(), **fm_numbers(), **shift_numbers(), **annotation_numbers(), **bench_numbers(), **reading_order()}

def fill(text:str, values:dict)->str:
    "`text` with each {{name}} replaced by values[name]; an unknown name is an error, not a silent gap."
    missing = sorted(set(PLACEHOLDER.findall(text)) - set(values))
    if missing: sys.exit(f'nbs/index.ipynb: no value for placeholder(s) {missing} (see numbers() in tools/make_readme.py)')
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], text)

def directives(src):
    return {m.group(1).strip(): (m.group(2) or '').strip() for m in re.finditer(r'^#\|\s*([\w-]+):?\s*(.*)$', src, re.M)}

def render(nb_path=ROOT/'nbs'/'index.ipynb'):
    nb = nbformat.read(nb_path, as_version=4)
    values, cells = numbers(), []
    for c in nb.cells:
        d = directives(c.source) if c.cell_type == 'code' else {}
        if 'hide' in d or 'exporti' in d or d.get('include') == 'false': continue
        c = copy.deepcopy(c)
        if c.cell_type == 'markdown': c.source = fill(c.source, values)
        if c.cell_type == 'code':
            c.source = re.sub(r'^#\|.*\n?', '', c.source, flags=re.M).strip()
            c.outputs = [o for o in c.get('outputs', []) if o.get('output_type') != 'display_data'
                         or 'text/markdown' in o.get('data', {}) or 'text/html' in o.get('data', {})]
            for o in c.outputs:
                if 'data' in o: o['data'] = {k: v for k, v in o['data'].items() if not k.startswith('image/')}
            if d.get('echo') == 'false': c.source = ''
        cells.append(c)
    nb.cells = cells
    body, _ = MarkdownExporter(exclude_input_prompt=True, exclude_output_prompt=True).from_notebook_node(nb)
    body = re.sub(r'\n```python\n\n```\n', '\n', body)     # cells whose source was hidden
    body = re.sub(r'\n{3,}', '\n\n', body).strip() + '\n'
    return HEADER + body

if __name__ == '__main__':
    text, readme = render(), ROOT/'README.md'
    if '--check' in sys.argv:
        if not readme.exists() or readme.read_text(encoding='utf-8') != text:
            sys.exit('README.md is stale: run `python tools/make_readme.py` (it is generated from nbs/index.ipynb and benchmarks/results)')
        print('README.md is current')
    else:
        readme.write_text(text, encoding='utf-8'); print('wrote README.md')
