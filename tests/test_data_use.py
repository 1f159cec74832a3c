"""What a program did with the passed tables, as a table: policy/data_use.py, with the facts read
from real frames by nbreason/data_facts.py."""

import pandas as pd
import pytest

from nbreason.data_facts import data_facts
from nbreason.policy.data_use import DataFacts, Misaligned, Value, data_use
from nbreason.policy.plausibility import vetoed

IOWA = pd.DataFrame({"year": [2001, 2001, 2002, 2002, 2003, 2003],
                     "source": ["Fossil Fuels", "Renewables"] * 3, "net_generation": [35, 1, 36, 2, 34, 5]})
RIOTS = pd.DataFrame({"race": ["Black", "Latino", "White", "Asian", "White"], "age": [30, 25, 50, 40, 46],
                      "gender": ["male", "male", "female", "male", "male"]})
Y1931 = pd.DataFrame({"site": ["Morris", "Waseca", "Crookston"], "variety": ["Trebi"] * 3, "yield": [30, 40, 20]})
Y1932 = pd.DataFrame({"site": ["Waseca", "Morris", "Crookston"], "variety": ["Trebi"] * 3, "yield": [45, 25, 21]})
SERIES = pd.DataFrame({"Series": ["I", "II", "III", "IV"], "y": [10.8, 9.3, 12.7, 12.5]})

RISE = "In which year did net generation from Renewables rise the most compared with the previous year?"
OLDEST = "Which race has the highest mean age? Answer with the race as written in the table."
HIGHER = "Matching rows by site and variety, for how many pairs was the 1932 yield higher than the 1931 yield?"
MEN = "How many of the deaths were of 'male' people?"

ROWS = [
    # (why, tables, question, answer, code, outputs, rule or None)
    ("a named category the program never selects", {"df": IOWA}, RISE, "2002",
     "d = df['net_generation'].diff()\nprint(df.loc[d.idxmax(), 'year'])", ["2002"], "named"),
    ("the named category selected", {"df": IOWA}, RISE, "2003",
     "r = df[df['source'] == 'Renewables'].set_index('year')['net_generation']\nprint(r.diff().idxmax())",
     ["2003"], None),
    ("selected by a part of its name", {"df": IOWA}, RISE, "2003",
     "r = df[df['source'].str.startswith('Renew')]\nprint(r.year.iloc[r.net_generation.diff().argmax()])",
     ["2003"], None),
    ("the category in what the program printed", {"df": IOWA}, RISE, "2003",
     "print(df.pivot(index='year', columns='source', values='net_generation').diff().idxmax())",
     ["source\nFossil Fuels    2002\nRenewables      2003"], None),
    ("a lower-case category the question does not quote is a plain word", {"df": RIOTS},
     "How many male deaths were there?", "3", "print(len(df))", ["5"], None),
    ("a lower-case category the question quotes", {"df": RIOTS}, MEN, "5", "print(len(df))", ["5"], "named"),
    ("several categories named are choices, which a groupby covers", {"df": SERIES},
     "Which series (I, II, III or IV) has the largest y?", "III", "print(df.loc[df.y.idxmax(), 'Series'])",
     ["III"], None),
    ("the answer is the named category itself", {"df": RIOTS}, "Is the oldest person Black or White?",
     "White", "print(df.loc[df.age.idxmax(), 'race'])", ["White"], None),
    ("some categories compared where the question asks across all", {"df": RIOTS}, OLDEST, "Black",
     "b = df[df.race == 'Black'].age.mean()\nl = df[df.race == 'Latino'].age.mean()\n"
     "print('Black' if b > l else 'Latino')", ["Black"], "some"),
    ("all categories compared", {"df": RIOTS}, OLDEST, "White",
     "print(df.groupby('race')['age'].mean().idxmax())", ["White"], None),
    ("every category written out", {"df": RIOTS}, OLDEST, "White",
     "ages = {r: df[df.race == r].age.mean() for r in ['Black', 'Latino', 'White', 'Asian']}\n"
     "print(sorted(ages.items(), key=lambda kv: kv[1])[-1][0])", ["White"], None),
    ("two tables whose rows differ in order, compared by position", {"df": Y1931, "df2": Y1932}, HIGHER, "2",
     "print((df2['yield'] > df['yield']).sum())", ["2"], "aligned"),
    ("compared by position in a loop", {"df": Y1931, "df2": Y1932}, HIGHER, "2",
     "n = 0\nfor a, b in zip(df['yield'], df2['yield']):\n    n += b > a\nprint(n)", ["2"], "aligned"),
    ("compared through a method", {"df": Y1931, "df2": Y1932}, HIGHER, "2",
     "print(df2['yield'].gt(df['yield']).sum())", ["2"], "aligned"),
    ("joined first", {"df": Y1931, "df2": Y1932}, HIGHER, "1",
     "m = df.merge(df2, on=['site', 'variety'])\nprint((m.yield_y > m.yield_x).sum())", ["1"], None),
    ("two tables whose rows are in the same order", {"df": Y1931, "df2": Y1932.iloc[[1, 0, 2]].reset_index(drop=True)},
     HIGHER, "1", "print((df2['yield'] > df['yield']).sum())", ["1"], None),
    ("one table on both sides", {"df": Y1931, "df2": Y1932}, HIGHER, "0",
     "print((df['yield'] > df['yield']).sum())", ["0"], None),
]


@pytest.mark.parametrize("why, tables, question, answer, code, outputs, rule", ROWS, ids=[r[0] for r in ROWS])
def test_data_use_rules(why, tables, question, answer, code, outputs, rule):
    signals = data_use(answer, question, [code], outputs, data_facts(tables))
    assert [s.name for s in signals] == ([rule] if rule else [])
    if rule:  # a rule that applies vetoes, with a reason that says what to do instead
        assert vetoed(signals) == signals[0].reason and signals[0].value == 0.0


def test_the_named_rule_reads_every_block_of_the_run():
    # the category was selected in an earlier step; the answer's step only prints it
    code = ["renew = df[df['source'] == 'Renewables'].set_index('year')['net_generation']",
            "print(renew.diff().idxmax())"]
    assert data_use("2003", RISE, code, ["2003"], data_facts({"df": IOWA})) == []
    assert [s.name for s in data_use("2003", RISE, code[1:], ["2003"], data_facts({"df": IOWA}))] == ["named"]


def test_the_reasons_name_the_column_and_what_to_write():
    named = data_use("2002", RISE, ["print(df.net_generation.diff().idxmax())"], ["2"], data_facts({"df": IOWA}))
    assert "'Renewables' (a value of `df['source']`)" in named[0].reason
    assert "df[df['source'] == 'Renewables']" in named[0].reason
    some = data_use("Black", OLDEST, ["print('Black' if df[df.race == 'Black'].age.mean() > 1 else 'Latino')"],
                    ["Black"], data_facts({"df": RIOTS}))
    assert some[0].reason.startswith("the program compares only 'Black', 'Latino' of the 4 values of `df['race']`")
    aligned = data_use("2", HIGHER, ["print((df2['yield'] > df['yield']).sum())"], ["2"],
                       data_facts({"df": Y1931, "df2": Y1932}))
    assert "row 0: site 'Morris', variety 'Trebi' in `df`; site 'Waseca', variety 'Trebi' in `df2`" in aligned[0].reason
    assert "df.merge(df2, on=['site', 'variety']" in aligned[0].reason


def test_without_tables_or_code_no_rule_applies():
    assert data_use("2002", RISE, ["print(1)"], ["1"], None) == []
    assert data_use("2002", RISE, [], [], data_facts({"df": IOWA})) == []


def test_facts_are_read_from_frames_only_and_never_raise():
    class Broken:
        columns, dtypes, index, iloc = ["a"], {}, None, None

        def __getitem__(self, key):
            raise RuntimeError("no")

    facts = data_facts({"df": IOWA, "n": 3, "arr": [1, 2], "broken": Broken(), "df2": IOWA.iloc[::-1]})
    assert Value("df", "source", "Renewables") in facts.values
    assert {v.frame for v in facts.values} == {"df", "df2"}
    assert facts.misaligned == ()  # df2's index is reversed too: pandas lines the rows up by label


def test_facts_name_the_first_row_where_two_tables_differ():
    assert data_facts({"df": Y1931, "df2": Y1932}).misaligned == (
        Misaligned("df", "df2", ("site", "variety"), 0, ("Morris", "Trebi"), ("Waseca", "Trebi")),)
    many = pd.DataFrame({"id": [f"x{i}" for i in range(100)]})
    assert data_facts({"df": many}) == DataFacts()  # 100 distinct texts are no categories


TIPS = pd.DataFrame({"smoker": ["Yes", "No", "Yes"], "time": ["Dinner", "Lunch", "Dinner"], "tip": [4, 2, 3.5]})
TRIAL = pd.DataFrame({"group": ["treatment", "control", "placebo"] * 2, "response": [5, 3, 3, 6, 2, 4]})
COUNTRIES = pd.DataFrame({"country": ["Germany", "France", "Spain"], "code": ["DE", "FR", "ES"], "gdp": [4, 3, 1]})
MONTHS = pd.DataFrame({"month": ["January", "February", "March"], "rain": [3, 2, 4]})
STATUS = pd.DataFrame({"country": list("ABC"), "status": ["ok", "ok", "late"], "v": [1, 2, 3]})
KEYED_NAN = pd.DataFrame({"k": ["x", None, "z"], "v": [1, 2, 3]})

QUIET = [
    # (why, tables, question, answer, code): right programs no rule may veto
    ("a yes-or-no answer is no choice between categories", {"df": TIPS},
     "Do smokers tip more than 3 dollars on average at dinner?", "Yes",
     "print('Yes' if df[(df.smoker == 'Yes') & (df.time == 'Dinner')].tip.mean() > 3 else 'No')"),
    ("the two categories the question names in lower case", {"df": TRIAL},
     "Which had the higher mean response, treatment or control?", "treatment",
     "t = df[df.group == 'treatment'].response.mean()\nc = df[df.group == 'control'].response.mean()\n"
     "print('treatment' if t > c else 'control')"),
    ("selected by exclusion", {"df": IOWA}, RISE, "2003",
     "r = df[df.source != 'Fossil Fuels'].set_index('year').net_generation\nprint(r.diff().idxmax())"),
    ("selected through another column of the same table", {"df": COUNTRIES},
     "What is the GDP of Germany?", "4", "print(df.loc[df.code == 'DE', 'gdp'].iloc[0])"),
    ("a short prefix", {"df": IOWA}, RISE, "2003",
     "r = df[df.source.str.startswith('Ren')].set_index('year').net_generation\nprint(r.diff().idxmax())"),
    ("a month the code selects by number", {"df": MONTHS}, "How much rain fell in January?", "3",
     "print(df.iloc[0].rain)"),
    ("a look at both tables' sizes and columns", {"df": Y1931, "df2": Y1932}, HIGHER, "1",
     "print(len(df), len(df2))\nprint(list(df.columns) == list(df2.columns))\n"
     "lookup = {(r.site, r.variety): r['yield'] for _, r in df.iterrows()}\n"
     "print(sum(r['yield'] > lookup[(r.site, r.variety)] for _, r in df2.iterrows()))"),
    ("a column that changes from row to row is no key", {"df": STATUS, "df2": STATUS.assign(
        status=["ok", "late", "late"], v=[2, 1, 4])}, "In how many countries did v rise?", "2",
     "print((df2.v > df.v).sum())"),
    ("a missing key in the same place in both tables", {"df": KEYED_NAN, "df2": KEYED_NAN.assign(v=[2, 1, 4])},
     "For how many keys did v rise?", "2", "print((df2.v > df.v).sum())"),
    ("code nested too deep to read", {"df": Y1931, "df2": Y1932}, HIGHER, "1",
     "print(" + "+".join(["1"] * 5000) + ")"),
]


@pytest.mark.parametrize("why, tables, question, answer, code", QUIET, ids=[r[0] for r in QUIET])
def test_no_rule_vetoes_a_right_program(why, tables, question, answer, code):
    assert data_use(answer, question, [code], [answer], data_facts(tables)) == []


def test_reading_facts_never_raises():
    class Proxy:  # attributes that raise something other than AttributeError
        def __getattr__(self, name):
            raise RuntimeError("not loaded")

    duplicated = pd.DataFrame([["a", "b", 1]], columns=["x", "x", "v"])
    assert data_facts({"df": Proxy()}) == DataFacts()
    assert data_facts({"df": duplicated}) == DataFacts()  # its one column of text is two: no facts, no error
    arrow = pd.DataFrame({"source": pd.array(["Renewables", "Nuclear"], dtype="string")})
    assert Value("df", "source", "Renewables") in data_facts({"df": arrow}).values
