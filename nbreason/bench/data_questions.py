"""Data questions: what a scientist asks about a table, passed in as `--with df` passes it.

Every table ships offline inside a PyPI package: scikit-learn's bundled data sets (not the
downloaded ones) and vega_datasets' local files. palmerpenguins and vega's cars,
seattle-weather and stocks are kept out on purpose: they are reserved for an outside check.

Every gold answer is computed here, by pandas, from the table the model gets: none is typed
in by hand, so a question and its answer cannot drift apart. Each question names the
variables that exist (`df`, or `df` and `df2`), what to return, and how to round it.

Split: a question whose number (the digits after "d" in its id) is odd is in `tune`, even is
in `report`. Tune prompts and rules on `tune`; quote `report`.

Grading:
  number    the requested rounding sets the tolerance: with d decimals an answer within half a
            unit of the d-th decimal of the exact value is right (3.14159 asked to 2 decimals:
            3.14, 3.140 and 3.1416 are right, 3.15 is not). Whole-number answers (counts,
            years) must be exact. Without a stated rounding: relative 1e-3.
  category  case and spacing do not matter, nor quotes or brackets around it. The category
            must be the whole answer, or be named in it with no other category of the same
            column named too ("Trebi (472.8)" is right, "Trebi or Manchuria" is not).
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from typing import Any, Callable

from .. import answers
from .grading import Grade

TOLERANCE = 1e-3  # relative, when a question states no rounding

# -- the tables ----------------------------------------------------------------------------
# A loader's name travels with a problem, so the variables can be rebuilt anywhere.


def _sklearn(name: str, **options):
    import sklearn.datasets

    return getattr(sklearn.datasets, f"load_{name}")(as_frame=True, **options)


def sklearn_iris():
    bunch = _sklearn("iris")
    frame = bunch.frame.drop(columns="target")
    frame["species"] = bunch.target_names[bunch.target]
    return frame


def sklearn_wine():
    bunch = _sklearn("wine")
    frame = bunch.frame.drop(columns="target")
    frame["cultivar"] = bunch.target_names[bunch.target]
    return frame


def sklearn_diabetes():
    return _sklearn("diabetes", scaled=False).frame  # measured units (age in years, bmi in kg/m²)


def sklearn_breast_cancer():
    bunch = _sklearn("breast_cancer")
    frame = bunch.frame.drop(columns="target")
    frame["diagnosis"] = bunch.target_names[bunch.target]
    return frame


def _vega(name: str):
    from vega_datasets import local_data  # the files shipped in the package: never downloaded

    return local_data(name)


def vega_barley():
    return _vega("barley")


def vega_barley_1931():
    frame = _vega("barley")
    return frame[frame["year"] == 1931].reset_index(drop=True)


def vega_barley_1932():
    frame = _vega("barley")
    return frame[frame["year"] == 1932].reset_index(drop=True)


def vega_iowa_electricity():
    return _vega("iowa-electricity")


def vega_us_employment():
    return _vega("us-employment")


def vega_sf_temps():
    return _vega("sf-temps")


def vega_seattle_temps():
    return _vega("seattle-temps")


def vega_wheat():
    return _vega("wheat")


def vega_driving():
    return _vega("driving")


def vega_anscombe():
    return _vega("anscombe")


def vega_burtin():
    return _vega("burtin")


def vega_crimea():
    return _vega("crimea")


def vega_la_riots():
    return _vega("la-riots")


def vega_ohlc():
    return _vega("ohlc")


def vega_airports():
    return _vega("airports")


def vega_iris():
    return _vega("iris")


LOADERS: dict[str, Callable[[], Any]] = {f.__name__: f for f in (
    sklearn_iris, sklearn_wine, sklearn_diabetes, sklearn_breast_cancer, vega_barley, vega_barley_1931,
    vega_barley_1932, vega_iowa_electricity, vega_us_employment, vega_sf_temps, vega_seattle_temps, vega_wheat,
    vega_driving, vega_anscombe, vega_burtin, vega_crimea, vega_la_riots, vega_ohlc, vega_airports, vega_iris)}


# -- computing answers ---------------------------------------------------------------------

def _only(values) -> Any:
    """The single element of `values`: a question whose answer is not unique is a broken question."""
    values = list(values)
    if len(values) != 1:
        raise ValueError(f"expected exactly one answer, found {values!r}")
    return values[0]


def _argmax(series) -> Any:
    """The label of the largest value, refusing ties (a tie makes the question ambiguous)."""
    top = series.max()
    return _only(series.index[series == top])


def _argmin(series) -> Any:
    return _argmax(-series)


def _slope(x, y) -> float:
    import numpy as np

    return float(np.polyfit(x.astype(float), y.astype(float), 1)[0])


def _longest_run(mask) -> int:
    best = run = 0
    for flag in mask:
        run = run + 1 if flag else 0
        best = max(best, run)
    return best


def _year(frame, column: str):
    import pandas as pd

    return pd.to_datetime(frame[column]).dt.year


def _daily_mean(frame):
    return frame.set_index("date")["temp"].resample("D").mean()


def _iowa_share(df):
    year = df[_year(df, "year") == 2017]
    return 100 * year.loc[year["source"] == "Renewables", "net_generation"].sum() / year["net_generation"].sum()


def _iowa_biggest_rise(df):
    renewables = df[df["source"] == "Renewables"].sort_values("year")
    rise = renewables["net_generation"].diff()
    rise.index = _year(renewables, "year")
    return _argmax(rise.dropna())


def _iowa_growth(df):
    wide = df.pivot(index="year", columns="source", values="net_generation")
    return _argmax((wide.iloc[-1] / wide.iloc[0] - 1))


def _barley_pairs(df, df2):
    both = df.merge(df2, on=["variety", "site"], suffixes=("_1931", "_1932"))
    assert len(both) == len(df) == len(df2)
    return int((both["yield_1932"] > both["yield_1931"]).sum())


def _morris(df):
    means = df.groupby(["site", "year"])["yield"].mean().unstack()
    return _only(means.index[means[1932] > means[1931]])


def _drawdown_thousands(df):
    nonfarm = df.sort_values("month")["nonfarm"]
    return int((nonfarm.cummax() - nonfarm).max())


def _manufacturing_change(df):
    at = df.set_index("month")["manufacturing"]
    return 100 * (at["2010-01-01"] / at["2008-01-01"] - 1)


def _lowest_year(df):
    return int(_argmin(df.groupby(_year(df, "month"))["nonfarm"].mean()))


def _construction_fall(df):
    yearly = df.groupby(_year(df, "month"))["construction"].mean()
    return int(_argmin(yearly.diff().dropna()))


def _iowa_jobs_correlation(df, df2):
    generation = df.groupby(_year(df, "year"))["net_generation"].sum()
    jobs = df2.groupby(_year(df2, "month"))["nonfarm"].mean()
    both = generation.to_frame("generation").join(jobs.rename("jobs"), how="inner")
    return float(both["generation"].corr(both["jobs"]))


def _seattle_warmer_days(df, df2):
    both = _daily_mean(df).to_frame("sf").join(_daily_mean(df2).rename("seattle"), how="inner")
    return int((both["seattle"] > both["sf"]).sum())


def _ohlc_drawdown(df):
    close = df.sort_values("date")["close"]
    return float(100 * (1 - close / close.cummax()).max())


def _penicillin_best(df):
    return int(((df["Penicillin"] < df["Streptomycin"]) & (df["Penicillin"] < df["Neomycin"])).sum())


def _crimea_peak(df):
    total = df.set_index("date")[["wounds", "other", "disease"]].sum(axis=1)
    return _argmax(total).strftime("%Y-%m")


def _strongest_with_flavanoids(df):
    r = df.corr(numeric_only=True)["flavanoids"].drop("flavanoids").abs()
    return _argmax(r)


def _bmi_gap(df):
    high = df["bmi"] > 30
    return float(df.loc[high, "target"].mean() - df.loc[~high, "target"].mean())


# -- the questions -------------------------------------------------------------------------

@dataclass(frozen=True)
class DataQuestion:
    id: str  # "d<number>-<topic>"; the number decides the split
    question: str
    tables: dict[str, str]  # variable name -> loader name in LOADERS
    answer: Callable[..., Any]  # the gold answer from the tables, by variable name
    kind: str  # "number" or "category"
    decimals: int | None = None  # the rounding the question asks for (0: a whole number)
    choices: Callable[..., Any] | None = None  # category: every name the answer could be

    @property
    def number(self) -> int:
        return int(re.match(r"d(\d+)", self.id).group(1))

    @property
    def split(self) -> str:
        return "tune" if self.number % 2 else "report"


def _column(variable: str, column: str) -> Callable[..., Any]:
    return lambda **tables: tables[variable][column].dropna().unique()


BARLEY = "`df` holds barley yields (bushels per acre) of 10 varieties at 6 Minnesota sites in 1931 and 1932."
IOWA = "`df` holds Iowa's yearly net electricity generation (GWh) by source."
JOBS = ("`df` holds monthly US employment in thousands of jobs, one row per month (the `month` column; "
        "`nonfarm` is total nonfarm employment).")
SF = "`df` holds hourly air temperatures (°F) in San Francisco during 2010."
SEATTLE = "`df` holds hourly air temperatures (°F) in Seattle during 2010."
WHEAT = ("`df` holds the price of wheat (shillings per quarter) and weekly wages (shillings) in England, "
         "every 5 years.")
DRIVING = "`df` holds miles driven per person and the gas price (dollars per gallon) in the US, one row per year."
ANSCOMBE = "`df` holds Anscombe's quartet: four series (I, II, III, IV) of (X, Y) points."
BURTIN = ("`df` holds the minimum inhibitory concentration (MIC) of three antibiotics against 16 bacteria: "
          "a lower MIC means the antibiotic is more effective.")
CRIMEA = "`df` holds monthly deaths in the British army during the Crimean War, by cause: wounds, other, disease."
RIOTS = "`df` lists the people who died during the 1992 Los Angeles riots, one row per person."
OHLC = "`df` holds a stock's daily open, high, low and close prices."
AIRPORTS = "`df` lists US airports with their state and coordinates."
IRIS = "`df` holds Fisher's iris flower measurements in cm, with each flower's species."
WINE = "`df` holds chemical analyses of 178 wines from three cultivars (the `cultivar` column)."
DIABETES = ("`df` holds the diabetes study data: age, sex, bmi, bp (blood pressure), six serum measurements "
            "s1–s6, and `target`, a measure of disease progression one year later.")
CANCER = ("`df` holds 569 breast tumour samples: 30 measurements each and a `diagnosis` column "
          "(malignant or benign).")

QUESTIONS: tuple[DataQuestion, ...] = (
    DataQuestion(
        "d01-barley-best-variety",
        f"{BARLEY} Which variety has the highest total yield, summed over all sites and both years? "
        "Answer with the variety name.",
        {"df": "vega_barley"}, lambda df: _argmax(df.groupby("variety")["yield"].sum()), "category",
        choices=_column("df", "variety")),
    DataQuestion(
        "d02-barley-morris",
        f"{BARLEY} At exactly one site the mean yield (over the varieties) was higher in 1932 than in 1931. "
        "Which site? Answer with the site name.",
        {"df": "vega_barley"}, _morris, "category", choices=_column("df", "site")),
    DataQuestion(
        "d03-barley-join",
        "`df` holds barley yields (bushels per acre) for 1931 and `df2` for 1932, one row per variety and site. "
        "Matching rows by variety and site, for how many variety–site pairs was the 1932 yield higher than the "
        "1931 yield? Answer with a whole number.",
        {"df": "vega_barley_1931", "df2": "vega_barley_1932"}, _barley_pairs, "number", 0),
    DataQuestion(
        "d04-iowa-renewable-share",
        f"{IOWA} What percentage of Iowa's total net generation in 2017 came from Renewables? "
        "Answer with the percentage rounded to 1 decimal (e.g. 12.3).",
        {"df": "vega_iowa_electricity"}, _iowa_share, "number", 1),
    DataQuestion(
        "d05-iowa-biggest-rise",
        f"{IOWA} In which year did net generation from Renewables rise the most (in GWh) compared with the "
        "previous year? Answer with the year (e.g. 2005).",
        {"df": "vega_iowa_electricity"}, _iowa_biggest_rise, "number", 0),
    DataQuestion(
        "d06-iowa-growth-source",
        f"{IOWA} Which source's net generation grew by the largest percentage from 2001 to 2017? "
        "Answer with the source name.",
        {"df": "vega_iowa_electricity"}, _iowa_growth, "category", choices=_column("df", "source")),
    DataQuestion(
        "d07-jobs-drawdown",
        f"{JOBS} What was the largest fall of `nonfarm` from its highest value so far to a later month "
        "(the maximum drawdown), in thousands of jobs? Answer with a whole number.",
        {"df": "vega_us_employment"}, _drawdown_thousands, "number", 0),
    DataQuestion(
        "d08-jobs-losing-streak",
        f"{JOBS} `nonfarm_change` is the change from the previous month. What is the longest run of "
        "consecutive months with a negative `nonfarm_change`? Answer with the number of months.",
        {"df": "vega_us_employment"}, lambda df: _longest_run(df.sort_values("month")["nonfarm_change"] < 0),
        "number", 0),
    DataQuestion(
        "d09-jobs-lowest-year",
        f"{JOBS} Average `nonfarm` over each calendar year. Which year has the lowest average? "
        "Answer with the year.",
        {"df": "vega_us_employment"}, _lowest_year, "number", 0),
    DataQuestion(
        "d10-jobs-manufacturing-change",
        f"{JOBS} By what percentage did `manufacturing` employment change from January 2008 to January 2010? "
        "Answer with the percentage rounded to 2 decimals (negative for a fall).",
        {"df": "vega_us_employment"}, _manufacturing_change, "number", 2),
    DataQuestion(
        "d11-iowa-jobs-correlation",
        "`df` holds Iowa's yearly net electricity generation (GWh) by source; `df2` holds monthly US employment "
        "in thousands (`nonfarm` is total employment, `month` the month). For each year present in both tables, "
        "take Iowa's total generation over all sources and the mean of `nonfarm` over that year's months. What is "
        "the Pearson correlation between these two yearly series? Round to 3 decimals.",
        {"df": "vega_iowa_electricity", "df2": "vega_us_employment"}, _iowa_jobs_correlation, "number", 3),
    DataQuestion(
        "d12-sf-warmest-day",
        f"{SF} Compute the mean temperature of each calendar day. What is the highest daily mean, "
        "in °F rounded to 2 decimals?",
        {"df": "vega_sf_temps"}, lambda df: float(_daily_mean(df).max()), "number", 2),
    DataQuestion(
        "d13-seattle-warmest-month",
        f"{SEATTLE} Which calendar month has the highest mean temperature? Answer with the month number (1–12).",
        {"df": "vega_seattle_temps"}, lambda df: int(_argmax(df.groupby(df["date"].dt.month)["temp"].mean())),
        "number", 0),
    DataQuestion(
        "d14-seattle-cold-spell",
        f"{SEATTLE} In time order, what is the longest run of consecutive readings below 40 °F? "
        "Answer with the number of readings.",
        {"df": "vega_seattle_temps"}, lambda df: _longest_run(df.sort_values("date")["temp"] < 40), "number", 0),
    DataQuestion(
        "d15-seattle-vs-sf",
        "`df` holds hourly air temperatures (°F) in San Francisco and `df2` in Seattle, both during 2010. "
        "Compute each city's mean temperature per calendar day. On how many days was Seattle's daily mean "
        "higher than San Francisco's? Answer with a whole number.",
        {"df": "vega_sf_temps", "df2": "vega_seattle_temps"}, _seattle_warmer_days, "number", 0),
    DataQuestion(
        "d16-wheat-wages-correlation",
        f"{WHEAT} What is the Pearson correlation between `wheat` and `wages`, over the rows where both are "
        "known? Round to 3 decimals.",
        {"df": "vega_wheat"}, lambda df: float(df["wheat"].corr(df["wages"])), "number", 3),
    DataQuestion(
        "d17-wheat-buying-power",
        f"{WHEAT} In which year did a week's wages buy the most wheat, i.e. when was wages / wheat highest? "
        "Answer with the year.",
        {"df": "vega_wheat"}, lambda df: int(_argmax((df["wages"] / df["wheat"]).set_axis(df["year"]).dropna())),
        "number", 0),
    DataQuestion(
        "d18-driving-trend",
        f"{DRIVING} Fit a least-squares line miles = a + b·year. What is the slope b, in miles per year, "
        "rounded to 1 decimal?",
        {"df": "vega_driving"}, lambda df: _slope(df["year"], df["miles"]), "number", 1),
    DataQuestion(
        "d19-driving-dearest-gas",
        f"{DRIVING} In which year was the gas price highest? Answer with the year.",
        {"df": "vega_driving"}, lambda df: int(_argmax(df.set_index("year")["gas"])), "number", 0),
    DataQuestion(
        "d20-anscombe-slope",
        f"{ANSCOMBE} For series III only, fit Y = a + b·X by least squares. What is the slope b, "
        "rounded to 3 decimals?",
        {"df": "vega_anscombe"}, lambda df: _slope(*(lambda s: (s["X"], s["Y"]))(df[df["Series"] == "III"])),
        "number", 3),
    DataQuestion(
        "d21-anscombe-highest-y",
        f"{ANSCOMBE} Which series contains the largest Y value? Answer with the series name (I, II, III or IV).",
        {"df": "vega_anscombe"}, lambda df: _argmax(df.groupby("Series")["Y"].max()), "category",
        choices=_column("df", "Series")),
    DataQuestion(
        "d22-burtin-neomycin",
        f"{BURTIN} Among the gram-negative bacteria, which one has the lowest Neomycin MIC? "
        "Answer with the bacterium's name as written in the table.",
        {"df": "vega_burtin"},
        lambda df: _argmin(df[df["Gram_Staining"] == "negative"].set_index("Bacteria")["Neomycin"]), "category",
        choices=_column("df", "Bacteria")),
    DataQuestion(
        "d23-burtin-penicillin",
        f"{BURTIN} For how many bacteria is Penicillin's MIC strictly lower than both Streptomycin's and "
        "Neomycin's? Answer with a whole number.",
        {"df": "vega_burtin"}, _penicillin_best, "number", 0),
    DataQuestion(
        "d24-crimea-disease-share",
        f"{CRIMEA} What percentage of all deaths (the three causes summed over all months) were from disease? "
        "Answer with the percentage rounded to 1 decimal.",
        {"df": "vega_crimea"},
        lambda df: float(100 * df["disease"].sum() / df[["wounds", "other", "disease"]].to_numpy().sum()),
        "number", 1),
    DataQuestion(
        "d25-crimea-worst-month",
        f"{CRIMEA} In which month was the total number of deaths (all three causes) highest? "
        "Answer with the month as YYYY-MM.",
        {"df": "vega_crimea"}, _crimea_peak, "category",
        choices=lambda df: df["date"].dt.strftime("%Y-%m").unique()),
    DataQuestion(
        "d26-riots-median-age",
        f"{RIOTS} What is the median age of the people whose age is known? Round to 1 decimal.",
        {"df": "vega_la_riots"}, lambda df: float(df["age"].median()), "number", 1),
    DataQuestion(
        "d27-riots-oldest-race",
        f"{RIOTS} Which race has the highest mean age (ignoring unknown ages)? Answer with the race as written "
        "in the table.",
        {"df": "vega_la_riots"}, lambda df: _argmax(df.groupby("race")["age"].mean()), "category",
        choices=_column("df", "race")),
    DataQuestion(
        "d28-riots-male-homicides",
        f"{RIOTS} How many of the deaths were homicides (type 'Homicide') of men? Answer with a whole number.",
        {"df": "vega_la_riots"}, lambda df: int(((df["type"] == "Homicide") & (df["gender"] == "Male")).sum()),
        "number", 0),
    DataQuestion(
        "d29-ohlc-drawdown",
        f"{OHLC} What is the maximum drawdown of the close price: the largest fall from the highest close so far "
        "to a later close, as a percentage of that high? Answer with a positive percentage rounded to 2 decimals.",
        {"df": "vega_ohlc"}, _ohlc_drawdown, "number", 2),
    DataQuestion(
        "d30-ohlc-up-days",
        f"{OHLC} On how many days did the close exceed the open? Answer with a whole number.",
        {"df": "vega_ohlc"}, lambda df: int((df["close"] > df["open"]).sum()), "number", 0),
    DataQuestion(
        "d31-airports-top-state",
        f"{AIRPORTS} Which state has the most airports? Answer with its two-letter code.",
        {"df": "vega_airports"}, lambda df: _argmax(df["state"].value_counts()), "category",
        choices=_column("df", "state")),
    DataQuestion(
        "d32-airports-far-north",
        f"{AIRPORTS} How many airports have a latitude above 60 degrees? Answer with a whole number.",
        {"df": "vega_airports"}, lambda df: int((df["latitude"] > 60).sum()), "number", 0),
    DataQuestion(
        "d33-iris-versicolor-petal",
        f"{IRIS} What is the mean petal length of the versicolor flowers, in cm rounded to 2 decimals?",
        {"df": "vega_iris"}, lambda df: float(df.loc[df["species"] == "versicolor", "petalLength"].mean()),
        "number", 2),
    DataQuestion(
        "d34-iris-widest-sepal",
        f"{IRIS} Which species has the largest mean sepal width? Answer with the species name.",
        {"df": "sklearn_iris"}, lambda df: _argmax(df.groupby("species")["sepal width (cm)"].mean()), "category",
        choices=_column("df", "species")),
    DataQuestion(
        "d35-wine-strongest-cultivar",
        f"{WINE} Which cultivar has the highest mean alcohol? Answer with the cultivar label as written in the "
        "table.",
        {"df": "sklearn_wine"}, lambda df: _argmax(df.groupby("cultivar")["alcohol"].mean()), "category",
        choices=_column("df", "cultivar")),
    DataQuestion(
        "d36-wine-flavanoid-partner",
        f"{WINE} Which other numeric column has the strongest correlation (largest absolute Pearson r) with "
        "`flavanoids`? Answer with the column name.",
        {"df": "sklearn_wine"}, _strongest_with_flavanoids, "category",
        choices=lambda df: [c for c in df.columns if c != "cultivar"]),
    DataQuestion(
        "d37-diabetes-bmi-slope",
        f"{DIABETES} Fit a least-squares line target = a + b·bmi. What is the slope b, rounded to 2 decimals?",
        {"df": "sklearn_diabetes"}, lambda df: _slope(df["bmi"], df["target"]), "number", 2),
    DataQuestion(
        "d38-diabetes-bmi-gap",
        f"{DIABETES} What is the mean `target` of the patients with bmi above 30 minus the mean `target` of the "
        "other patients? Round to 2 decimals.",
        {"df": "sklearn_diabetes"}, _bmi_gap, "number", 2),
    DataQuestion(
        "d39-cancer-malignant-share",
        f"{CANCER} What percentage of the samples are malignant? Answer with the percentage rounded to 1 decimal.",
        {"df": "sklearn_breast_cancer"}, lambda df: float(100 * (df["diagnosis"] == "malignant").mean()),
        "number", 1),
    DataQuestion(
        "d40-cancer-malignant-radius",
        f"{CANCER} Among the malignant samples, what is the median of the `mean radius` column? "
        "Round to 2 decimals.",
        {"df": "sklearn_breast_cancer"},
        lambda df: float(df.loc[df["diagnosis"] == "malignant", "mean radius"].median()), "number", 2),
)


# -- problems for the benchmark --------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def _table(loader: str):
    return LOADERS[loader]()


def build_variables(problem) -> dict[str, Any]:
    """The variables to pass for a problem (or a DataQuestion), each a fresh copy of its table,
    so no run sees what an earlier one did to a shared frame."""
    tables = getattr(problem, "variables", None) or getattr(problem, "tables")
    return {name: _table(loader).copy(deep=True) for name, loader in tables.items()}


def gold(question: DataQuestion) -> tuple[Any, list[str]]:
    """The gold answer (a float, or a category name) and, for categories, every possible name."""
    tables = build_variables(question)
    value = question.answer(**tables)
    if question.kind == "category":
        choices = sorted({str(c) for c in question.choices(**tables)})
        value = str(value)
        if value not in choices:
            raise ValueError(f"{question.id}: {value!r} is not one of its choices")
        return value, choices
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{question.id}: the gold answer is {value}")
    return value, []


def format_gold(value: float, decimals: int | None) -> str:
    if decimals is None:
        return f"{value:.6g}"
    return f"{round(value, decimals):.{decimals}f}"


def problems(limit: int | None = None, split: str | None = None) -> list:
    """The questions as benchmark problems (`split`: "tune", "report" or None for all)."""
    from .datasets import Problem

    chosen = [q for q in QUESTIONS if split in (None, q.split)][:limit]
    out = []
    for q in chosen:
        value, choices = gold(q)
        shown = value if q.kind == "category" else format_gold(value, q.decimals)
        meta = {"grader": "data", "kind": q.kind, "split": q.split, "decimals": q.decimals, "exact": value,
                "choices": choices}
        out.append(Problem(q.id, q.question, shown, meta, variables=dict(q.tables)))
    return out


# -- grading ---------------------------------------------------------------------------------

_EDGES = "'\"`[](){}<>*.,;: \t\n"


def read_number(answer: str) -> float | None:
    """The number an answer states: the whole answer, else the last number in it
    ("np.float64(3.14)", "12.3%", "1,234", "The slope is 0.52"), read by `answers`."""
    text = answers.unwrap(answer).rstrip("%").strip()
    found = answers.number(text) or next(iter(answers.numbers_in(text)[-1:]), None)
    return float(found.value) if found is not None else None


def _normal(text: str) -> str:
    return " ".join(answers.unwrap(text).strip(_EDGES).casefold().split())


def _names(text: str, name: str) -> bool:
    """`name` appears in `text` as a whole phrase (not inside a longer word or code)."""
    return re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-]|\.\d)", text) is not None


def grade(answer: str | None, problem) -> Grade:
    """Grade one answer to one data problem (see the module docstring for the rules)."""
    if answer is None or not str(answer).strip():
        return Grade(False, "no answer")
    meta = problem.meta
    if meta["kind"] == "category":
        return _grade_category(str(answer), problem.gold, meta.get("choices") or [])
    return _grade_number(str(answer), float(meta["exact"]), meta.get("decimals"))


def _grade_number(answer: str, exact: float, decimals: int | None) -> Grade:
    number = read_number(answer)
    if number is None:
        return Grade(False, "no number in the answer")
    if decimals == 0 and exact == int(exact):
        return Grade(number == exact, "whole number")
    if decimals is not None:
        # Half a unit of the requested last decimal, plus a hair for binary floats.
        limit = 0.5 * 10 ** -decimals * (1 + 1e-9) + 1e-12
        return Grade(abs(number - exact) <= limit, f"within half of 1e-{decimals}")
    return Grade(math.isclose(number, exact, rel_tol=TOLERANCE, abs_tol=1e-12), f"relative {TOLERANCE:g}")


def _grade_category(answer: str, gold: str, choices: list[str]) -> Grade:
    said, want = _normal(answer), _normal(gold)
    if said == want:
        return Grade(True, "category")
    if not _names(said, want):
        return Grade(False, "category: not named")
    rest = re.sub(rf"(?<![\w-]){re.escape(want)}(?![\w-])", " ", said)
    others = [c for c in choices if _normal(c) != want and _names(rest, _normal(c))]
    if others:
        return Grade(False, f"category: also names {others[0]!r}")
    return Grade(True, "category named in the answer")
