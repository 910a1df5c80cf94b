"""Service HTML comes from Jinja2 templates with autoescape: text from runs never reaches a page raw."""
from satco2.services import dashboards as svc


def test_fragments_escape_run_supplied_text():
    evil = '<script>alert(1)</script>'
    header = svc.fragment("app_header.html", title=evil, author="a&b", run_id="r1", run_date="2020",
                          params='x="<i>"')
    assert "<script>" not in header and "&lt;script&gt;" in header and "a&amp;b" in header
    assert header.startswith("<b>") and "<code>x=&#34;&lt;i&gt;&#34;</code>" in header
    note = svc.fragment("busy_note.html", slug=evil, run_id="r<1>")
    assert "<script>" not in note and "r&lt;1&gt;" in note and note.startswith("<div")

