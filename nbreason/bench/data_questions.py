"""Data questions: what a scientist asks about a table, passed in as `--with df` passes it.

The tables are in data_tables.py (offline, from PyPI packages); the gold answers are computed in
data_gold.py; answers are graded in grading.py (`grade_data`).

Every gold answer is computed by pandas from the table the model gets: none is typed
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

import math
import re
from dataclasses import dataclass
from typing import Any, Callable

from .data_gold import (
    argmax, argmin, slope, longest_run, daily_mean, iowa_share, iowa_biggest_rise, iowa_growth, barley_pairs,
    morris, drawdown_thousands, manufacturing_change, lowest_year, iowa_jobs_correlation,
    seattle_warmer_days, ohlc_drawdown, penicillin_best, crimea_peak, strongest_with_flavanoids, bmi_gap)
from .data_tables import build_variables


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
        {"df": "vega_barley"}, lambda df: argmax(df.groupby("variety")["yield"].sum()), "category",
        choices=_column("df", "variety")),
    DataQuestion(
        "d02-barley-morris",
        f"{BARLEY} At exactly one site the mean yield (over the varieties) was higher in 1932 than in 1931. "
        "Which site? Answer with the site name.",
        {"df": "vega_barley"}, morris, "category", choices=_column("df", "site")),
    DataQuestion(
        "d03-barley-join",
        "`df` holds barley yields (bushels per acre) for 1931 and `df2` for 1932, one row per variety and site. "
        "Matching rows by variety and site, for how many variety–site pairs was the 1932 yield higher than the "
        "1931 yield? Answer with a whole number.",
        {"df": "vega_barley_1931", "df2": "vega_barley_1932"}, barley_pairs, "number", 0),
    DataQuestion(
        "d04-iowa-renewable-share",
        f"{IOWA} What percentage of Iowa's total net generation in 2017 came from Renewables? "
        "Answer with the percentage rounded to 1 decimal (e.g. 12.3).",
        {"df": "vega_iowa_electricity"}, iowa_share, "number", 1),
    DataQuestion(
        "d05-iowa-biggest-rise",
        f"{IOWA} In which year did net generation from Renewables rise the most (in GWh) compared with the "
        "previous year? Answer with the year (e.g. 2005).",
        {"df": "vega_iowa_electricity"}, iowa_biggest_rise, "number", 0),
    DataQuestion(
        "d06-iowa-growth-source",
        f"{IOWA} Which source's net generation grew by the largest percentage from 2001 to 2017? "
        "Answer with the source name.",
        {"df": "vega_iowa_electricity"}, iowa_growth, "category", choices=_column("df", "source")),
    DataQuestion(
        "d07-jobs-drawdown",
        f"{JOBS} What was the largest fall of `nonfarm` from its highest value so far to a later month "
        "(the maximum drawdown), in thousands of jobs? Answer with a whole number.",
        {"df": "vega_us_employment"}, drawdown_thousands, "number", 0),
    DataQuestion(
        "d08-jobs-losing-streak",
        f"{JOBS} `nonfarm_change` is the change from the previous month. What is the longest run of "
        "consecutive months with a negative `nonfarm_change`? Answer with the number of months.",
        {"df": "vega_us_employment"}, lambda df: longest_run(df.sort_values("month")["nonfarm_change"] < 0),
        "number", 0),
    DataQuestion(
        "d09-jobs-lowest-year",
        f"{JOBS} Average `nonfarm` over each calendar year. Which year has the lowest average? "
        "Answer with the year.",
        {"df": "vega_us_employment"}, lowest_year, "number", 0),
    DataQuestion(
        "d10-jobs-manufacturing-change",
        f"{JOBS} By what percentage did `manufacturing` employment change from January 2008 to January 2010? "
        "Answer with the percentage rounded to 2 decimals (negative for a fall).",
        {"df": "vega_us_employment"}, manufacturing_change, "number", 2),
    DataQuestion(
        "d11-iowa-jobs-correlation",
        "`df` holds Iowa's yearly net electricity generation (GWh) by source; `df2` holds monthly US employment "
        "in thousands (`nonfarm` is total employment, `month` the month). For each year present in both tables, "
        "take Iowa's total generation over all sources and the mean of `nonfarm` over that year's months. What is "
        "the Pearson correlation between these two yearly series? Round to 3 decimals.",
        {"df": "vega_iowa_electricity", "df2": "vega_us_employment"}, iowa_jobs_correlation, "number", 3),
    DataQuestion(
        "d12-sf-warmest-day",
        f"{SF} Compute the mean temperature of each calendar day. What is the highest daily mean, "
        "in °F rounded to 2 decimals?",
        {"df": "vega_sf_temps"}, lambda df: float(daily_mean(df).max()), "number", 2),
    DataQuestion(
        "d13-seattle-warmest-month",
        f"{SEATTLE} Which calendar month has the highest mean temperature? Answer with the month number (1–12).",
        {"df": "vega_seattle_temps"}, lambda df: int(argmax(df.groupby(df["date"].dt.month)["temp"].mean())),
        "number", 0),
    DataQuestion(
        "d14-seattle-cold-spell",
        f"{SEATTLE} In time order, what is the longest run of consecutive readings below 40 °F? "
        "Answer with the number of readings.",
        {"df": "vega_seattle_temps"}, lambda df: longest_run(df.sort_values("date")["temp"] < 40), "number", 0),
    DataQuestion(
        "d15-seattle-vs-sf",
        "`df` holds hourly air temperatures (°F) in San Francisco and `df2` in Seattle, both during 2010. "
        "Compute each city's mean temperature per calendar day. On how many days was Seattle's daily mean "
        "higher than San Francisco's? Answer with a whole number.",
        {"df": "vega_sf_temps", "df2": "vega_seattle_temps"}, seattle_warmer_days, "number", 0),
    DataQuestion(
        "d16-wheat-wages-correlation",
        f"{WHEAT} What is the Pearson correlation between `wheat` and `wages`, over the rows where both are "
        "known? Round to 3 decimals.",
        {"df": "vega_wheat"}, lambda df: float(df["wheat"].corr(df["wages"])), "number", 3),
    DataQuestion(
        "d17-wheat-buying-power",
        f"{WHEAT} In which year did a week's wages buy the most wheat, i.e. when was wages / wheat highest? "
        "Answer with the year.",
        {"df": "vega_wheat"}, lambda df: int(argmax((df["wages"] / df["wheat"]).set_axis(df["year"]).dropna())),
        "number", 0),
    DataQuestion(
        "d18-driving-trend",
        f"{DRIVING} Fit a least-squares line miles = a + b·year. What is the slope b, in miles per year, "
        "rounded to 1 decimal?",
        {"df": "vega_driving"}, lambda df: slope(df["year"], df["miles"]), "number", 1),
    DataQuestion(
        "d19-driving-dearest-gas",
        f"{DRIVING} In which year was the gas price highest? Answer with the year.",
        {"df": "vega_driving"}, lambda df: int(argmax(df.set_index("year")["gas"])), "number", 0),
    DataQuestion(
        "d20-anscombe-slope",
        f"{ANSCOMBE} For series III only, fit Y = a + b·X by least squares. What is the slope b, "
        "rounded to 3 decimals?",
        {"df": "vega_anscombe"}, lambda df: slope(*(lambda s: (s["X"], s["Y"]))(df[df["Series"] == "III"])),
        "number", 3),
    DataQuestion(
        "d21-anscombe-highest-y",
        f"{ANSCOMBE} Which series contains the largest Y value? Answer with the series name (I, II, III or IV).",
        {"df": "vega_anscombe"}, lambda df: argmax(df.groupby("Series")["Y"].max()), "category",
        choices=_column("df", "Series")),
    DataQuestion(
        "d22-burtin-neomycin",
        f"{BURTIN} Among the gram-negative bacteria, which one has the lowest Neomycin MIC? "
        "Answer with the bacterium's name as written in the table.",
        {"df": "vega_burtin"},
        lambda df: argmin(df[df["Gram_Staining"] == "negative"].set_index("Bacteria")["Neomycin"]), "category",
        choices=_column("df", "Bacteria")),
    DataQuestion(
        "d23-burtin-penicillin",
        f"{BURTIN} For how many bacteria is Penicillin's MIC strictly lower than both Streptomycin's and "
        "Neomycin's? Answer with a whole number.",
        {"df": "vega_burtin"}, penicillin_best, "number", 0),
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
        {"df": "vega_crimea"}, crimea_peak, "category",
        choices=lambda df: df["date"].dt.strftime("%Y-%m").unique()),
    DataQuestion(
        "d26-riots-median-age",
        f"{RIOTS} What is the median age of the people whose age is known? Round to 1 decimal.",
        {"df": "vega_la_riots"}, lambda df: float(df["age"].median()), "number", 1),
    DataQuestion(
        "d27-riots-oldest-race",
        f"{RIOTS} Which race has the highest mean age (ignoring unknown ages)? Answer with the race as written "
        "in the table.",
        {"df": "vega_la_riots"}, lambda df: argmax(df.groupby("race")["age"].mean()), "category",
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
        {"df": "vega_ohlc"}, ohlc_drawdown, "number", 2),
    DataQuestion(
        "d30-ohlc-up-days",
        f"{OHLC} On how many days did the close exceed the open? Answer with a whole number.",
        {"df": "vega_ohlc"}, lambda df: int((df["close"] > df["open"]).sum()), "number", 0),
    DataQuestion(
        "d31-airports-top-state",
        f"{AIRPORTS} Which state has the most airports? Answer with its two-letter code.",
        {"df": "vega_airports"}, lambda df: argmax(df["state"].value_counts()), "category",
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
        {"df": "sklearn_iris"}, lambda df: argmax(df.groupby("species")["sepal width (cm)"].mean()), "category",
        choices=_column("df", "species")),
    DataQuestion(
        "d35-wine-strongest-cultivar",
        f"{WINE} Which cultivar has the highest mean alcohol? Answer with the cultivar label as written in the "
        "table.",
        {"df": "sklearn_wine"}, lambda df: argmax(df.groupby("cultivar")["alcohol"].mean()), "category",
        choices=_column("df", "cultivar")),
    DataQuestion(
        "d36-wine-flavanoid-partner",
        f"{WINE} Which other numeric column has the strongest correlation (largest absolute Pearson r) with "
        "`flavanoids`? Answer with the column name.",
        {"df": "sklearn_wine"}, strongest_with_flavanoids, "category",
        choices=lambda df: [c for c in df.columns if c not in ("cultivar", "flavanoids")]),  # not the subject
    DataQuestion(
        "d37-diabetes-bmi-slope",
        f"{DIABETES} Fit a least-squares line target = a + b·bmi. What is the slope b, rounded to 2 decimals?",
        {"df": "sklearn_diabetes"}, lambda df: slope(df["bmi"], df["target"]), "number", 2),
    DataQuestion(
        "d38-diabetes-bmi-gap",
        f"{DIABETES} What is the mean `target` of the patients with bmi above 30 minus the mean `target` of the "
        "other patients? Round to 2 decimals.",
        {"df": "sklearn_diabetes"}, bmi_gap, "number", 2),
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
