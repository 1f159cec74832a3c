"""How the data questions' gold answers are computed: pandas over the table the model gets, so a
question and its answer cannot drift apart (see data_questions.py)."""

from __future__ import annotations

from typing import Any


def only(values) -> Any:
    """The single element of `values`: a question whose answer is not unique is a broken question."""
    values = list(values)
    if len(values) != 1:
        raise ValueError(f"expected exactly one answer, found {values!r}")
    return values[0]


def argmax(series) -> Any:
    """The label of the largest value, refusing ties (a tie makes the question ambiguous)."""
    top = series.max()
    return only(series.index[series == top])


def argmin(series) -> Any:
    return argmax(-series)


def slope(x, y) -> float:
    import numpy as np

    return float(np.polyfit(x.astype(float), y.astype(float), 1)[0])


def longest_run(mask) -> int:
    best = run = 0
    for flag in mask:
        run = run + 1 if flag else 0
        best = max(best, run)
    return best


def years(frame, column: str):
    import pandas as pd

    return pd.to_datetime(frame[column]).dt.year


def daily_mean(frame):
    return frame.set_index("date")["temp"].resample("D").mean()


def iowa_share(df):
    rows = df[years(df, "year") == 2017]
    return 100 * rows.loc[rows["source"] == "Renewables", "net_generation"].sum() / rows["net_generation"].sum()


def iowa_biggest_rise(df):
    renewables = df[df["source"] == "Renewables"].sort_values("year")
    rise = renewables["net_generation"].diff()
    rise.index = years(renewables, "year")
    return argmax(rise.dropna())


def iowa_growth(df):
    wide = df.pivot(index="year", columns="source", values="net_generation")
    return argmax((wide.iloc[-1] / wide.iloc[0] - 1))


def barley_pairs(df, df2):
    both = df.merge(df2, on=["variety", "site"], suffixes=("_1931", "_1932"))
    assert len(both) == len(df) == len(df2)
    return int((both["yield_1932"] > both["yield_1931"]).sum())


def morris(df):
    means = df.groupby(["site", "year"])["yield"].mean().unstack()
    return only(means.index[means[1932] > means[1931]])


def drawdown_thousands(df):
    nonfarm = df.sort_values("month")["nonfarm"]
    return int((nonfarm.cummax() - nonfarm).max())


def manufacturing_change(df):
    at = df.set_index("month")["manufacturing"]
    return 100 * (at["2010-01-01"] / at["2008-01-01"] - 1)


def lowest_year(df):
    return int(argmin(df.groupby(years(df, "month"))["nonfarm"].mean()))


def construction_fall(df):
    yearly = df.groupby(years(df, "month"))["construction"].mean()
    return int(argmin(yearly.diff().dropna()))


def iowa_jobs_correlation(df, df2):
    generation = df.groupby(years(df, "year"))["net_generation"].sum()
    jobs = df2.groupby(years(df2, "month"))["nonfarm"].mean()
    both = generation.to_frame("generation").join(jobs.rename("jobs"), how="inner")
    return float(both["generation"].corr(both["jobs"]))


def seattle_warmer_days(df, df2):
    both = daily_mean(df).to_frame("sf").join(daily_mean(df2).rename("seattle"), how="inner")
    return int((both["seattle"] > both["sf"]).sum())


def ohlc_drawdown(df):
    close = df.sort_values("date")["close"]
    return float(100 * (1 - close / close.cummax()).max())


def penicillin_best(df):
    return int(((df["Penicillin"] < df["Streptomycin"]) & (df["Penicillin"] < df["Neomycin"])).sum())


def crimea_peak(df):
    total = df.set_index("date")[["wounds", "other", "disease"]].sum(axis=1)
    return argmax(total).strftime("%Y-%m")


def strongest_with_flavanoids(df):
    r = df.corr(numeric_only=True)["flavanoids"].drop("flavanoids").abs()
    return argmax(r)


def bmi_gap(df):
    high = df["bmi"] > 30
    return float(df.loc[high, "target"].mean() - df.loc[~high, "target"].mean())
