"""Running a question end to end: build the model and sandbox, drive the loop, fan the
events out to subscribers, and keep the result.  (API contract; implementation in progress.)

    result = await reason("What is 2**100?", config=load(), subscribers=[console.on_event])

`subscribers` are callables taking each `Event`; they render or save, never decide.
`stop` is an `asyncio.Event`: set it (Stop button, Ctrl-C) and the run ends with
stop_reason "stopped by user", keeping everything so far.
`variables` maps names to Python objects to place in the sandbox before the first step.
"""
