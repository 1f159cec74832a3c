"""The HTML of every view, as Jinja2 templates with autoescape on.

Every value a template receives is escaped unless it is `Markup`, and only three things are:
markup nh3 has cleaned (`safe.clean_html`), pygments' highlighted code (it escapes each token)
and fragments rendered by these templates. Question, model text, answers, errors, vote rows
and whatever a trace holds are plain values here, whatever their type.
"""

from __future__ import annotations

from jinja2 import DictLoader, Environment, StrictUndefined
from markupsafe import Markup

from .safe import clean_html


def _formatted(value, spec: str, convert=None) -> str:
    """A number as `spec` formats it (after `convert`); anything else as text. A hand-crafted trace
    can put text where a number belongs, or numbers no float holds in its free-form settings
    (10**400, Infinity): those are shown as they are rather than stop the page."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return format(convert(value) if convert else value, spec)
        except (OverflowError, ValueError):
            pass
    try:
        return str(value)
    except ValueError:  # an integer of more digits than Python prints
        return "(a number too long to show)"


def number_text(value, digits: int = 2) -> str:
    """A float with `digits` decimals; anything else (a hand-crafted trace) as text."""
    return _formatted(value, f".{digits}f")


def count_text(value) -> str:
    return _formatted(value, ",", int)


def _general(value) -> str:
    return _formatted(value, "g")


TEMPLATES = {
    "header.html": (
        '{% if started is none %}<div><b>nbreason</b></div>{% else %}'
        '<div class="nbreason-header" id="nbreason-run-{{ started.run_id }}">'
        '<div style="font-size:110%"><b>{{ started.question }}</b></div>'
        '{% if continues %}<div class="nbreason-continues" style="color:#555">continues: '
        '<a href="#nbreason-run-{{ continues.run_id }}" title="the earlier run this one follows" '
        'style="color:#1a6fb5;text-decoration:underline">'
        '{{ continues.question|truncate(120) }} → {{ continues.answer if continues.answer is not none else "no answer" }}'
        '</a></div>{% endif %}'
        '<div style="color:#666">model <code>{{ config.get("model", "") }}</code>'
        ' · sandbox <code>{{ config.get("sandbox", "") }}</code>'
        '{% if config.get("checks") %} · checks <code>{{ config.get("checks") }}</code>{% endif %}'
        '{% if ceiling %} · spends at most <b>${{ ceiling }}</b>'
        '{% endif %}</div></div>{% endif %}'
    ),
    "notes.html": (
        '{% for note in notes %}<div class="nbreason-note" style="color:#8a6d00;margin:2px 0">{{ note }}</div>'
        '{% endfor %}'
    ),
    "earlier.html": (
        '<details class="nbreason-earlier"><summary>the earlier run\'s code ({{ blocks }} block{{ "s" if blocks != 1 }})'
        '</summary>{{ code }}</details>'
    ),
    "outputs.html": (
        '{% for out in outputs %}'
        '{% if out.output_type == "stream" %}'
        '<pre style="margin:2px 0;color:{{ "#b00" if out.name == "stderr" else "inherit" }}">{{ out.text }}</pre>'
        '{% elif out.output_type == "error" %}'
        '<pre class="nbreason-error" style="margin:2px 0;color:#b00">{{ out.ename }}: {{ out.evalue }}\n'
        '{{ out.traceback|join("\n") }}</pre>'
        '{% elif "text/html" in out.data %}<div class="nbreason-html">{{ out.data["text/html"]|clean }}</div>'
        '{% elif "image/png" in out.data %}<img src="data:image/png;base64,{{ out.data["image/png"] }}"/>'
        '{% elif "image/jpeg" in out.data %}<img src="data:image/jpeg;base64,{{ out.data["image/jpeg"] }}"/>'
        '{% elif "text/plain" in out.data %}<pre style="margin:2px 0">{{ out.data["text/plain"] }}</pre>'
        '{% endif %}{% endfor %}'
    ),
    "check.html": (
        '<div><b>check</b>: reward {{ check.reward|number }}'
        '{% if check.signals %}<table class="nbreason-signals" style="font-size:90%">'
        '{% for s in check.signals %}<tr><td>{{ s.name }}</td><td>{{ s.value|number }}</td><td>{{ s.reason }}</td></tr>'
        '{% endfor %}</table>{% endif %}</div>'
    ),
    "final.html": (
        '<div class="nbreason-answer" style="border-left:4px solid #2a7;padding:4px 8px">'
        '<div><b>Answer</b></div>{{ answer if answer else "<i>no answer</i>"|safe }}'
        '{% if competing %}<div class="nbreason-competing">the methods disagree: {{ competing }}</div>{% endif %}'
        '<div style="color:#666">stopped: {{ stopped }}</div></div>'
    ),
    "step.html": (
        '<details class="nbreason-step"{{ " open" if open else "" }}><summary><b>{{ title }}</b></summary>'
        '{{ plan }}{{ code }}{{ outputs }}{{ check }}'
        '{% if decision %}<div><b>decision</b>: {{ decision.action }} — {{ decision.reason }}</div>'
        '{% endif %}{% for error in errors %}<pre style="color:#b00">{{ error }}</pre>{% endfor %}</details>'
    ),
    "vote.html": (
        '<div class="nbreason-vote"><b>{{ vote.strategy }} over {{ vote.answers|length }} attempts</b>'
        '<table><tr><th>attempt</th><th>answer</th><th>reward</th><th>verified</th><th>tokens</th><th>ended</th></tr>'
        '{% for r in rows %}<tr style="{{ "font-weight:bold" if r.attempt == vote.winner_attempt else "" }}">'
        '<td>{{ r.attempt }}</td><td>{{ r.answer }}</td><td>{{ r.reward|number }}</td>'
        '<td>{{ "yes" if r.verified else "no" }}</td><td>{{ r.tokens|count }}</td>'
        '<td>{{ r.stop_reason }}</td></tr>{% endfor %}</table>'
        '<div>tally: {% for k, v in tally %}{{ k }}: {{ v|general }}{{ ", " if not loop.last else "" }}{% endfor %}</div>'
        '<div>winner: {{ vote.why }}</div>'
        '{% if vote.stopped_early %}<div>sampling stopped early: {{ vote.stopped_early }}</div>{% endif %}</div>'
    ),
    "attempt.html": (
        '<details class="nbreason-attempt"><summary>attempt {{ number }}: '
        '{{ final.answer if final else "…" }}</summary>{{ body }}</details>'
    ),
    "run.html": (
        '<div class="nbreason-run">{{ header }}{{ notes }}'
        '{% if budget is not none %}<div style="color:#666">{{ budget }}</div>{% endif %}'
        '{% for part in parts %}{{ part }}{% endfor %}'
        '{% for error in errors %}<pre style="color:#b00">{{ error }}</pre>{% endfor %}'
        '{{ final }}</div>'
    ),
    "report.html": (
        "<!doctype html>\n<html><head><meta charset='utf-8'>"
        # No script in the report at all: a policy the browser enforces, should anything slip through.
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; "
        "style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'\">"
        "<title>{{ title }}</title><style>{{ style }}</style></head><body>{{ body }}</body></html>\n"
    ),
    # --- the live widgets --------------------------------------------------------------
    "stream.html": (
        '<pre style="white-space:pre-wrap;color:#555;margin:0;max-height:16em;overflow:auto">{{ text }}</pre>'
    ),
    "footer.html": (
        '<div style="color:#666">{{ usage }}'
        '{% if decision %}<br><b>{{ decision.action }}</b>: {{ decision.reason }}{% endif %}'
        '{% for e in errors %}<br><span style="color:#b00">{{ e }}</span>{% endfor %}</div>'
    ),
    "status.html": '<span style="color:#666">{{ text }}</span>',
    "error.html": '<pre style="color:#b00;margin:2px 0">{{ message }}</pre>',
    "text.html": "{{ text }}",
    "replay_position.html": (
        "<span class='nbreason-replay-position' style='white-space:nowrap'>{{ position }}/{{ total }} · {{ what }}</span>"
    ),
    # --- two runs compared ---------------------------------------------------------------
    "compare_title.html": (
        '<div class="nbreason-compare-title" style="font-weight:bold;border-bottom:2px solid #888;'
        'margin-bottom:4px">{{ run }} · {{ label }}</div>'
    ),
    "compare_settings.html": (
        '{% if settings %}<div class="nbreason-compare-settings">settings that differ: '
        '{% for name, a, b in settings %}<code>{{ name }}</code> {{ a }} ({{ names[0] }}) vs {{ b }} ({{ names[1] }})'
        '{{ "; " if not loop.last else "" }}{% endfor %}</div>{% endif %}'
    ),
    "compare_banner.html": (
        '<div class="nbreason-compare-banner" style="padding:4px 0">'
        '{% if questions[0] != questions[1] %}<div style="color:#b00">the two runs answer different questions: '
        '<i>{{ questions[0] }}</i> vs <i>{{ questions[1] }}</i></div>{% endif %}'
        '{{ settings }}'
        '{% if first is none %}<div>The two runs do the same at every step.</div>'
        '{% elif reached %}<div><b>First difference</b> <span class="nbreason-diverged-text" '
        'style="background:rgba(245,158,11,0.35);padding:2px 6px;border-radius:3px">{{ first.what }}</span></div>'
        '{% else %}<div style="color:#666">The same so far. The runs part ways further on: step there, or press '
        '<kbd>D</kbd> (the <i>Differs</i> button) to jump.</div>{% endif %}</div>'
    ),
    "compare_ends.html": (
        '<table class="nbreason-compare-ends" style="border-collapse:collapse;margin:6px 0">'
        '<tr><th></th>{% for name, label in runs %}<th style="padding:2px 10px;text-align:left">{{ name }} · {{ label }}'
        '</th>{% endfor %}</tr>'
        '<tr><td><b>answer</b></td>{% for e in ends %}<td style="padding:2px 10px"><b>'
        '{{ e.answer if e.answer is not none else ("no answer" if e.finished else "unfinished") }}</b></td>{% endfor %}</tr>'
        '<tr><td>checked</td>{% for e in ends %}<td style="padding:2px 10px">'
        '{{ {True: "verified", False: "not verified"}.get(e.verified, "unchecked") }} · {{ e.stop_reason }}</td>'
        '{% endfor %}</tr>'
        '<tr><td>reward</td>{% for e in ends %}<td style="padding:2px 10px">'
        '{{ e.reward|number if e.reward is not none else "–" }}</td>{% endfor %}</tr>'
        '<tr><td>cost</td>{% for e in ends %}<td style="padding:2px 10px">'
        '{{ "$%.4f"|format(e.cost) if e.cost is number else "unknown" }} · {{ e.tokens|count }} tokens</td>{% endfor %}</tr>'
        '<tr><td>took</td>{% for e in ends %}<td style="padding:2px 10px">{{ e.steps|count }} step(s) · '
        '{{ e.seconds|number(1) }} s</td>{% endfor %}</tr></table>'
    ),
    "compare.html": (
        '<div class="nbreason-compare">{{ header }}{{ banner }}'
        '<table class="nbreason-compare-steps" style="width:100%;table-layout:fixed;border-collapse:collapse">'
        '<tr>{% for name, label in runs %}<th style="text-align:left">{{ name }} · {{ label }}</th>{% endfor %}</tr>'
        '{% for row in steps %}{% if row.diverged %}<tr class="nbreason-diverged" '
        'style="outline:3px solid #d97706;background:rgba(217,119,6,0.10)">{% else %}<tr>{% endif %}'
        '{% for cell in row.cells %}<td style="vertical-align:top;padding:2px 6px;width:50%">'
        '{% if row.attempt %}<div style="color:#666">attempt {{ row.attempt }}</div>{% endif %}'
        '{{ cell if cell else "<i style=\'color:#888\'>no such step</i>"|safe }}</td>{% endfor %}</tr>{% endfor %}'
        '<tr>{% for final in finals %}<td style="vertical-align:top;padding:2px 6px">{{ final }}</td>{% endfor %}</tr>'
        '</table>{{ ends }}</div>'
    ),
}

environment = Environment(loader=DictLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined)
environment.filters.update(number=number_text, count=count_text, general=_general,
                           clean=lambda markup: Markup(clean_html(markup)))


def render(name: str, **context) -> Markup:
    """One template, rendered; the result is markup other templates include as it is."""
    return Markup(environment.get_template(name).render(**context))
