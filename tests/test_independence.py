"""Whether a check's program is another route or the run's own computation again, as a table:
policy/independence.py, and what a repeat counts for in a verification."""

import pytest

from nbreason.policy.independence import repeats
from nbreason.policy.methods import CHECKED, ROWS
from nbreason.policy.verification import Verification, solutions_text

RUN = ("import pandas as pd\n# the drawdown\n"
       "max_drawdown = (df['high'] - df['close'].cummax()) / df['high'].cummax() * 100\n"
       "print(round(max_drawdown.max(), 2))\n")

ROWS_TABLE = [
    # (why, the check's code, the run's code blocks, repeats)
    ("the same statements with a row count printed first",
     "import pandas as pd\nprint(df.shape)\n# again\nmax_drawdown = (df['high'] - df['close'].cummax()) / "
     "df['high'].cummax() * 100\nprint(round(max_drawdown.max(),   2))", [RUN], True),
    ("spacing, quotes and comments do not count",
     'max_drawdown = (df["high"] - df["close"].cummax()) / df["high"].cummax() * 100  # same\n'
     "print(round(max_drawdown.max(), 2))", [RUN], True),
    ("statements spread over the run's blocks", "a = df['x'].sum()\nprint(a / 2)",
     ["a = df['x'].sum()", "print(a / 2)"], True),
    ("another computation", "peak = df['close'].cummax()\nprint(round(((peak - df['close']) / peak).max() * 100, 2))",
     [RUN], False),
    ("one statement of its own is enough", "print(df.shape)\nmax_drawdown = df['close'].pct_change().min()\n"
     "print(round(max_drawdown.max(), 2))", [RUN], False),
    ("only row counts printed: nothing computed", "print(df.shape)\nprint(len(df))\nprint('rows')", [RUN], False),
    ("the same selection, another count printed last", "kinds = df['kind']\nprint(len(set(kinds)))",
     ["kinds = df['kind']\nprint(kinds.nunique())"], False),
    ("a printed size is the answer when it comes last and the run printed it too",
     "rows = df[df.x > 1]\nprint(len(rows))", ["rows = df[df.x > 1]\nprint(len(rows))"], True),
    ("a printed value that is not a size is a computation", "print(df['close'].max())", [RUN], False),
    ("code that does not parse", "print(df.shape\n", [RUN], False),
    ("a reply too deep to parse or unparse", "x = " + "+".join(["1"] * 200_000), ["x = 1"], False),
    ("run code too deep to unparse is no statement", "print(1)", ["y = " + "+".join(["1"] * 200_000)], False),
    ("a block too deep to unparse does not hide the run's other blocks", "print(1)",
     ["y = " + "+".join(["1"] * 200_000), "print(1)"], True),
    ("no run code to repeat", "print(1 + 1)", [], False),
    # what cannot change the computation, found in copies a review wrote
    ("the result formatted instead of rounded", "max_drawdown = (df['high'] - df['close'].cummax()) / "
     "df['high'].cummax() * 100\nprint(f'{max_drawdown.max():.2f}')", [RUN], True),
    ("the result carried to the print by a variable of its own", "max_drawdown = (df['high'] - df['close'].cummax())"
     " / df['high'].cummax() * 100\nresult = round(max_drawdown.max(), 2)\nprint(result)", [RUN], True),
    ("columns read as attributes", "max_drawdown = (df.high - df.close.cummax()) / df.high.cummax() * 100\n"
     "print(round(max_drawdown.max(), 2))", [RUN], True),
    ("a docstring and an assert", '"""drawdown"""\nassert not df.empty\nmax_drawdown = (df[\'high\'] - '
     "df['close'].cummax()) / df['high'].cummax() * 100\nprint(round(max_drawdown.max(), 2))", [RUN], True),
    ("a carried variable read again is a computation", "t = df['x'].sum()\nu = t * 2\nprint(t)",
     ["print(df['x'].sum())"], False),
    ("a method is not a column", "print(df.x.sum())", ["print(df['x']['sum']())"], False),
    ("a formatted copy of an earlier statement of a longer run still repeats it",
     "dd = df['x'].sum()\nprint(dd)", ["dd = df['x'].sum()\nprint(dd)\nother = dd * 2\nprint(other)"], True),
    # the pens problem's copy: the run's program with every variable renamed
    ("the run's program with its variables renamed",
     "cost_per_pen = 2 / 3\npens = 45\ntotal = cost_per_pen * pens\nprint(total)",
     ["price_each = 2 / 3\nn = 45\ncost = price_each * n\nprint(cost)"], True),
    ("renamed, in one of the run's blocks, with a size printed first",
     "print(len(df))\nsub = df[df['kind'] == 'a']\nprint(sub['x'].mean())",
     ["print(df.shape)", "rows = df[df['kind'] == 'a']\nprint(rows['x'].mean())"], True),
    ("the run's prints passed over", "sub = df[df['kind'] == 'a']\nprint(sub['x'].mean())",
     ["rows = df[df['kind'] == 'a']\nprint(rows.head())\nprint(rows['x'].mean())"], True),
    ("a renamed top-level loop variable", "total = 0\nfor k in range(7):\n    total += k * 7\nprint(total)",
     ["s = 0\nfor i in range(7):\n    s += i * 7\nprint(s)"], True),
    ("renamed, but one constant differs", "unit = 2 / 3\ntotal = unit * 30\nprint(total)",
     ["price = 2 / 3\ncost = price * 45\nprint(cost)"], False),
    ("renamed, but 1 and 1.0 differ", "a = df['x'].sum() * 1\nprint(a)", ["b = df['x'].sum() * 1.0\nprint(b)"], False),
    ("renamed, but True and 1 differ", "a = df['x'].sum() * True\nprint(a)", ["b = df['x'].sum() * 1\nprint(b)"], False),
    ("a passed table is not renamed", "sub = other[other['kind'] == 'a']\nprint(len(sub))",
     ["rows = df[df['kind'] == 'a']\nprint(len(rows))"], False),
    ("no renaming the same throughout: one name stands for two of the run's",
     "t = df['x'].sum()\nt = t / 2\nprint(t)", ["a = df['x'].sum()\nb = a / 2\nprint(b)"], False),
    ("the renaming is one to one: two variables are not one", "a = 1\nb = 1\nprint(a + b)",
     ["x = 1\nprint(x + x)"], False),
    ("a builtin is not renamed to a variable", "print(max(df['x']))", ["m = df['x']\nprint(m(df['x']))"], False),
    # what the review found a renaming could confuse: each pair prints two different values
    ("a function's parameters are not renamed (keyword arguments spell them)",
     "def f(b, a):\n    return b - a\nprint(f(b=1, a=5))", ["def f(a, b):\n    return a - b\nprint(f(b=1, a=5))"], False),
    ("imported names are not renamed", "from math import floor\nprint(floor(2.5))",
     ["from math import ceil\nprint(ceil(2.5))"], False),
    ("the check's imports must be the run's", "import math as m\nprint(m.floor(2.5))",
     ["import numpy as m\nprint(m.floor(2.5))"], False),
    ("a name an inner scope binds is not renamed", "def f(other):\n    return other['x'].sum()\nprint(f(other))",
     ["def f(df):\n    return df['x'].sum()\nprint(f(df))"], False),
    ("a comprehension variable shadowing a builtin", "_ = [sum for sum in ()]\nprint(sum(df['x']))",
     ["_ = [max for max in ()]\nprint(max(df['x']))"], False),
    ("a name a string spells is not renamed", "u = 5\nt = 10\nprint(len(df.query('x > @t')))",
     ["t = 5\nu = 10\nprint(len(df.query('x > @t')))"], False),
    ("a class's attributes are not renamed", "class P:\n    b = 1\n    a = 2\nprint(P.a)",
     ["class P:\n    a = 1\n    b = 2\nprint(P.a)"], False),
    ("a size print that assigns a name computes", "print(len(t := other))\nprint(t['x'].sum())",
     ["t2 = df\nprint(t2['x'].sum())"], False),
    ("the same, with the run's own name", "print(len(df := df[df['x'] > 0]))\nprint(df['x'].sum())",
     ["print(df['x'].sum())"], False),
    ("a statement used twice is no copy", "t = df['x'].sum()\nt = t * 2\nt = t * 2\nprint(t)",
     ["a = df['x'].sum()\na = a * 2\nprint(a)"], False),
    ("statements out of the run's order are no copy", "t = 1\nt = t * 2\nt = 5\nprint(t)",
     ["a = 5\na = 1\na = a * 2\nprint(a)"], False),
    ("a copy that skips one of the block's assignments is no copy", "b = df['x']\nprint(b.sum())",
     ["a = df['x']\na = a[a > 0]\nprint(a.sum())"], False),
    ("a copy that skips an in-place change is no copy", "b = df.copy()\nprint(b['x'].sum())",
     ["a = df.copy()\na.dropna(inplace=True)\nprint(a['x'].sum())"], False),
    ("a copy that skips a filter an earlier block applied is no copy",
     "d2 = df.dropna()\nprint(d2['x'].sum())", ["df = df[df['x'] > 0]", "clean = df.dropna()\nprint(clean['x'].sum())"],
     False),
    ("a long renamed copy is found: statements are matched in the run's order",
     "\n".join(["a0 = 1"] + [f"a{i} = a{i - 1} + {i}" for i in range(1, 400)]) + "\nprint(a399)",
     ["\n".join(["b0 = 1"] + [f"b{i} = b{i - 1} + {i}" for i in range(1, 400)]) + "\nprint(b399)"], True),
    ("run code that is no text is passed over", "print(1 + 1)", [None, "print(1 + 1)"], True),
]


@pytest.mark.parametrize("why,code,run,expected", ROWS_TABLE, ids=[r[0] for r in ROWS_TABLE])
def test_whether_a_check_repeats_the_run(why, code, run, expected):
    assert repeats(code, run) is expected


def test_a_program_and_its_copy_never_settle_an_answer():
    check = Verification("2.51", extra=3, mode="methods", plan=(CHECKED, ROWS), run_code=(RUN,))
    check.add("2.51", CHECKED, sampled=False, code="print(df.shape)\n" + RUN)
    assert check.settled() is None and check.standings()[0].families == ("program",)
    assert solutions_text(check.rows()) == "program: 2.51 · checked program (same code as the run): 2.51"
    check.add("2.51", ROWS, sampled=False, code="m = 0\nfor r in df.to_dict('records'):\n    m = max(m, r['close'])")
    assert check.settled() == "2.51"  # a route of its own agrees


def test_a_checked_program_of_its_own_still_counts_as_a_family():
    check = Verification("2.51", extra=3, mode="methods", plan=(CHECKED, ROWS), run_code=(RUN,))
    check.add("2.51", CHECKED, sampled=False, code="peak = df['close'].cummax()\nprint(((peak - df['close']) / peak).max())")
    assert check.settled() == "2.51" and not check.rows()[1].repeats


def test_a_renamed_copy_and_the_run_never_settle_an_answer():
    run = "price = 2 / 3\nn = 45\ncost = price * n\nprint(cost)"
    check = Verification("30.0", extra=3, mode="methods", plan=(CHECKED, ROWS), run_code=(run,))
    copy = "unit = 2 / 3\npens = 45\ntotal = unit * pens\nprint(total)"
    check.add("30.0", CHECKED, sampled=False, code=copy)
    assert check.settled() is None and check.rows()[1].repeats
    assert check.rows()[1].code == copy and check.rows()[0].code is None  # the final answer shows which program gave it


def test_a_copy_the_search_cannot_confirm_within_its_bound_is_a_route_of_its_own(monkeypatch):
    copy = ("\n".join(["a0 = 1"] + [f"a{i} = a{i - 1} + {i}" for i in range(1, 50)]) + "\nprint(a49)",
            ["\n".join(["b0 = 1"] + [f"b{i} = b{i - 1} + {i}" for i in range(1, 50)]) + "\nprint(b49)"])
    assert repeats(*copy)
    monkeypatch.setattr("nbreason.policy.independence.SEARCH", 100)
    assert not repeats(*copy)
