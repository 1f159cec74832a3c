"""Small word problems with known answers, for the default run on the embedded 1.5B model: the
README's pens question, and two more of the kind that a single program gets wrong by misreading."""

PROBLEMS = [
    ("A shop sells pens at 3 for $2. How much do 45 pens cost?", "30"),
    ("A baker makes 4 trays of 12 muffins. She sells 30 muffins and gives away a third of the rest. "
     "How many muffins does she have left?", "12"),
    ("Tom reads 15 pages on Monday and twice as many on Tuesday. On Wednesday he reads 5 pages fewer than on "
     "Tuesday. How many pages did he read over the three days?", "70"),
]
