"""`nbreason bench`: strategies measured on GSM8K, MATH-500 or a JSONL file of questions."""
