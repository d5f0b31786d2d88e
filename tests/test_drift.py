"Drift statistics equal scipy's on the same data; verdicts match known shifted and unshifted cases."
import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon
from jupyter_llmops.drift import column_drift, drift, psi
from jupyter_llmops.config import load_settings

rng = np.random.default_rng(42)


def num(n, mu=0.0, name="x"): return pd.Series(rng.normal(mu, 1.0, n), name=name)
def cat(n, p, name="c"): return pd.Series(rng.choice(["a", "b", "c"], size=n, p=p), name=name)


def test_ks_equals_scipy_and_verdicts():
    a, b = num(800), num(800, 0.3)
    r = column_drift(a, b)
    ref = stats.ks_2samp(a, b)
    assert r["test"] == "ks" and r["statistic"] == pytest.approx(ref.statistic) and r["p_value"] == pytest.approx(ref.pvalue)
    assert r["drift"] and not column_drift(a, num(800))["drift"]


def test_wasserstein_equals_scipy_and_verdicts():
    a, b = num(5000), num(5000, 0.5)
    r = column_drift(a, b)
    assert r["test"] == "wasserstein" and r["p_value"] is None
    assert r["statistic"] == pytest.approx(stats.wasserstein_distance(a, b) / np.std(a))
    assert r["drift"] and not column_drift(a, num(5000))["drift"]


def test_chi2_equals_scipy_and_verdicts():
    a, b = cat(600, [0.5, 0.3, 0.2]), cat(600, [0.2, 0.3, 0.5])
    r = column_drift(a, b)
    counts_a, counts_b = a.value_counts().reindex(["a", "b", "c"]).to_numpy(float), b.value_counts().reindex(["a", "b", "c"]).to_numpy(float)
    ref = stats.chi2_contingency(np.vstack([counts_a, counts_b]))  # two samples: a test of homogeneity
    assert r["test"] == "chi2" and r["statistic"] == pytest.approx(ref.statistic) and r["p_value"] == pytest.approx(ref.pvalue)
    assert r["drift"] and not column_drift(a, cat(600, [0.5, 0.3, 0.2]))["drift"]


def test_js_equals_scipy_and_verdicts():
    a, b = cat(4000, [0.5, 0.3, 0.2]), cat(4000, [0.2, 0.3, 0.5])
    r = column_drift(a, b)
    pa, pb = (s.value_counts(normalize=True).reindex(["a", "b", "c"]).to_numpy() for s in (a, b))
    assert r["test"] == "js" and r["statistic"] == pytest.approx(jensenshannon(pa, pb, base=2))
    assert r["drift"] and not column_drift(a, cat(4000, [0.5, 0.3, 0.2]))["drift"]


def test_psi_by_hand_and_verdicts():
    a, b = num(3000), num(3000, 0.6)
    edges = np.unique(np.quantile(a, np.linspace(0, 1, 11))); edges[0], edges[-1] = -np.inf, np.inf
    ra, rb = np.histogram(a, edges)[0] / len(a), np.histogram(b, edges)[0] / len(b)
    assert psi(a, b, False) == pytest.approx(np.sum((rb - ra) * np.log(rb / ra)))
    assert column_drift(a, b, "psi")["drift"] and not column_drift(a, num(3000), "psi")["drift"]


def test_report_share_mlflow_and_bad_input(tmp_path):
    s = load_settings(tmp_path, environ={"LLMOPS_HOME": str(tmp_path), "HOME": str(tmp_path), "LLMOPS_EXPERIMENT": "drift-t"})
    ref = pd.DataFrame({"x": num(500), "y": num(500), "c": cat(500, [0.5, 0.3, 0.2])})
    cur = pd.DataFrame({"x": num(500, 1.0), "y": num(500), "c": cat(500, [0.5, 0.3, 0.2])})
    rep = drift(ref, cur, settings=s)
    assert rep.columns.set_index("column").drift.to_dict() == {"x": True, "y": False, "c": False}
    assert rep.share_drifted == pytest.approx(1 / 3) and not rep.dataset_drift
    import mlflow
    assert mlflow.get_run(rep.run_id).data.metrics["share_drifted"] == pytest.approx(1 / 3)
    assert "data:image/png" in rep._repr_html_()
    from jupyter_llmops.errors import UsageError
    with pytest.raises(UsageError, match="not in both"):
        drift(ref, cur, ["x", "nope"], log=False)
    with pytest.raises(UsageError, match="ks compares numbers, and this column holds categories"):
        drift(ref, cur, ["c"], test="ks", log=False)


def test_magic_on_dataframes_in_the_namespace(tmp_path_factory):
    from kernel import project_kernel
    k, _ = project_kernel(tmp_path_factory, "drk", "[llmops]\nexperiment = drift-k\n")
    try:
        r = k.run("from sklearn.datasets import load_wine\nw = load_wine(as_frame=True).frame\nref, cur = w.iloc[::2], w.iloc[1::2].copy()\n"
                  "cur['alcohol'] += 1.5\nrep = %llmops drift ref cur --columns alcohol hue\nprint(rep.columns.drift.tolist(), rep.share_drifted)")
        assert r.status == "ok" and r.stdout.split() == ["[True,", "False]", "0.5"], (r.evalue, r.stdout)
        r = k.run("%llmops drift ref missing_df")
        assert r.ename == "UsageError" and "neither a DataFrame" in r.evalue
    finally:
        k.close()


def test_auto_weighs_a_small_current_batch_against_a_large_reference():
    # probe r1: 50 current rows against 5,000 got Wasserstein's fixed threshold, 20 of 20 same-distribution batches "drift"
    g = np.random.default_rng(7)
    same = [column_drift(pd.Series(g.normal(100, 15, 5000), name="amount"), pd.Series(g.normal(100, 15, 50), name="amount"))
            for _ in range(20)]
    assert {r["test"] for r in same} == {"ks"} and sum(r["drift"] for r in same) <= 3
    assert column_drift(pd.Series(g.normal(100, 15, 5000), name="a"), pd.Series(g.normal(115, 15, 50), name="a"))["drift"]
    c = lambda n, p: pd.Series(g.choice(["a", "b", "c"], size=n, p=p), name="c")
    same = [column_drift(c(5000, [.5, .3, .2]), c(50, [.5, .3, .2])) for _ in range(20)]
    assert {r["test"] for r in same} == {"chi2"} and sum(r["drift"] for r in same) <= 3
    assert column_drift(c(5000, [.5, .3, .2]), c(50, [.1, .2, .7]))["drift"]
    # NaN rows do not count: 5,000 rows of which 4,990 missing on both sides are a small sample
    nan = lambda n: pd.Series(np.r_[g.normal(0, 1, 10), [np.nan] * (n - 10)], name="n")
    assert column_drift(nan(5000), nan(5000))["test"] == "ks"


def test_psi_and_js_count_a_few_valued_number_column_by_value():
    # probe r5: decile edges at the values themselves put 19.99 and 29.99 in one bin; two values scored 0 whatever moved
    g = np.random.default_rng(0)
    price = lambda p: pd.Series(g.choice([9.99, 19.99, 29.99], 5000, p=p), name="price")
    ref, cur = price([.6, .3, .1]), price([.6, .05, .35])
    assert [column_drift(ref, cur, t)["drift"] for t in ("psi", "js", "chi2")] == [True] * 3
    assert psi(ref, cur, False) > 0.5 and not column_drift(ref, price([.6, .3, .1]), "psi")["drift"]
    dose = pd.Series([0.5] * 1800 + [1.5] * 201, name="dose")
    r = column_drift(dose, pd.Series([1.5] * 2001, name="dose"), "psi")
    assert r["drift"] and r["statistic"] > 1


def test_numbers_read_as_text_on_one_side_are_numbers_or_a_clear_error():
    # probe r3: the same 1-5 ratings, text on one side (a stray cell) and floats on the other, were "drift, p=2e-165"
    from jupyter_llmops.errors import UsageError
    g = np.random.default_rng(0)
    text, nums = pd.Series([str(v) for v in g.integers(1, 6, 400)], name="rating"), pd.Series(g.integers(1, 6, 400), name="rating").astype(float)
    for a, b in ((text, nums), (nums, text), (pd.Series(["0.5", "1.25"] * 100, name="f"), pd.Series([0.5, 1.25] * 100, name="f"))):
        r = column_drift(a, b)
        assert r["p_value"] > 0.05 and not r["drift"], r  # compared as numbers: the ratings as categories, 0.5/1.25 by KS
    assert drift(pd.DataFrame({"r": text}), pd.DataFrame({"r": text.astype(float) + 2}), log=False).columns.drift.tolist() == [True]
    stray = pd.concat([text, pd.Series(["unknown"])], ignore_index=True).rename("rating")
    for a, b, side in ((stray, nums, "the reference"), (nums, stray, "the current data")):
        with pytest.raises(UsageError, match=f"rating: numbers in the .*; in {side}, 1 of 401 values are not numbers: 'unknown'") as e:
            column_drift(a, b)
        assert "na_values=['unknown']" in e.value.hint
    with pytest.raises(UsageError, match="c: numbers in the current data, str values in the reference"):
        column_drift(pd.Series(["a", "b"] * 50, name="c"), pd.Series([1.5, 2.5] * 50, name="c"))


def test_wasserstein_on_a_constant_reference_is_unit_free():
    # probe r2: the reference's std of 0 fell back to 1.0, a raw distance: 0.01 -> 0.05 on every row (5x) was 0.04, no drift
    const = lambda v, n=2000: pd.Series([v] * n, name="fee_rate")
    r = column_drift(const(0.01), const(0.05))
    assert r["test"] == "wasserstein" and r["drift"]
    assert column_drift(const(10.5), const(52.5))["statistic"] == pytest.approx(r["statistic"])  # units do not matter
    assert not column_drift(const(0.01), const(0.01))["drift"]
    g = np.random.default_rng(1)
    assert column_drift(const(0.01), pd.Series(0.01 + g.normal(0, 0.001, 2000), name="fee_rate"))["drift"]


def test_a_time_column_is_not_tested_unless_named():
    # probe r4: one timestamp column refused the whole `%llmops drift ref cur`, where ids are marked "not tested"
    from jupyter_llmops.errors import UsageError
    g = np.random.default_rng(0)
    frame = lambda start, mu: pd.DataFrame({"ts": pd.date_range(start, periods=300, freq="h"), "x": g.normal(mu, 1, 300),
                                            "took": pd.to_timedelta(g.integers(1, 9, 300), unit="s")})
    rep = drift(frame("2024-01-01", 0), frame("2024-02-01", 2), log=False)
    rows = rep.columns.set_index("column")
    assert rows.test.to_dict() == {"ts": "none", "x": "ks", "took": "none"} and rows.drift.to_dict() == {"ts": False, "x": True, "took": False}
    assert rows.note["ts"].startswith("dates and times, not tested") and rep.share_drifted == 1.0
    with pytest.raises(UsageError, match="ts: dates and times are not compared"):
        drift(frame("2024-01-01", 0), frame("2024-02-01", 2), ["ts", "x"], log=False)


def test_columns_named_as_text_find_integer_column_names():
    # probe r4: `%llmops drift a b --columns 0` on frames from numpy arrays said "column(s) not in both frames: 0"
    from jupyter_llmops.errors import UsageError
    g = np.random.default_rng(0)
    a, b = pd.DataFrame(g.normal(0, 1, (300, 3))), pd.DataFrame(g.normal(1, 1, (300, 3)))
    rep = drift(a, b, ["0", "2"], log=False)
    assert rep.columns.column.tolist() == ["0", "2"] and rep.columns.drift.tolist() == [True, True]
    with pytest.raises(UsageError, match="not in both frames: 5"):
        drift(a, b, ["5"], log=False)


def test_a_heavily_tied_value_has_its_own_bin():
    # 75% zeros and a spread tail: the deciles' edges tie at 0, and the zeros' bin took in the small values beside
    # them, so a quarter of the rows turning from 0 to small amounts (a fee where there was none) scored PSI 0.0
    n, g = 20000, np.random.default_rng(7)  # its own draws: the same whatever ran before
    ref = pd.Series(np.r_[np.zeros(15000), g.exponential(10, 5000)], name="amount")
    cur = pd.Series(np.r_[np.zeros(10000), g.uniform(0.1, 2, 5000), g.exponential(10, 5000)], name="amount")
    assert [column_drift(ref, cur, t)["drift"] for t in ("psi", "js", "chi2")] == [True] * 3
    assert psi(ref, cur, False) > 0.2
    same = pd.Series(np.r_[np.zeros(15000), g.exponential(10, 5000)], name="amount")  # the same distribution: calm
    assert [column_drift(ref, same, t)["drift"] for t in ("psi", "js", "chi2")] == [False] * 3 and len(ref) == len(cur) == n


def test_explicit_wasserstein_on_a_small_sample_is_not_drift_from_noise():
    # --test wasserstein, 50 rows against 5,000 of the same distribution: the fixed 0.1 threshold measured sampling
    # noise, and 49 of 50 draws were "drift" (only a warning said so); random splits of the pooled rows now set the floor
    same = shifted = 0
    for seed in range(20):
        g = np.random.default_rng(seed)
        ref = pd.DataFrame({"x": g.normal(0, 1, 5000)})
        with pytest.warns(UserWarning, match="wasserstein on 50 rows"):
            same += bool(drift(ref, pd.DataFrame({"x": g.normal(0, 1, 50)}), test="wasserstein", log=False).columns.drift[0])
            shifted += bool(drift(ref, pd.DataFrame({"x": g.normal(1, 1, 50)}), test="wasserstein", log=False).columns.drift[0])
    assert same <= 3 and shifted == 20
    calm = column_drift(pd.Series(np.random.default_rng(0).normal(0, 1, 5000), name="x"), pd.Series(np.random.default_rng(1).normal(0, 1, 50), name="x"), "wasserstein")
    assert not calm["drift"] and calm["note"].startswith("within sampling noise")
