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



def test_usage_page_escapes_ledger_text(tmp_path, monkeypatch):
    from satco2 import usage
    from satco2.services import usage_page

    evil = '<script>alert(1)</script>'
    ledger = tmp_path / "usage.jsonl"
    usage.record(ledger, "start", "server", evil, evil, cores=1, memory_gib=2)
    usage.record(ledger, "start", "worker", "carol", "c/w", cores=2, memory_gib=1)
    monkeypatch.setenv("SATCO2_USAGE_LEDGER", str(ledger))
    monkeypatch.setenv("SATCO2_USAGE_SETTINGS", '{"quotas": {"default": {"max_concurrent_cores": 4}}}')
    page = svc.render("usage.html", title="Usage per user", base="/s/", user={"name": "root", "admin": True},
                      **usage_page.page_values())
    assert '<a href="/s/usage">usage</a>' in page  # admins find the page in the header
    assert "/s/usage" not in svc.render("message.html", title="t", message="m", base="/s/", user={"name": "u"})
    assert "<script>" not in page and 'data-user="&lt;script&gt;alert(1)&lt;/script&gt;"' in page
    assert page.count('class="user-row"') == 2
    assert "<td>4 (50 %)</td>" in page  # carol holds 2 of her 4 cores at once
    monkeypatch.setenv("SATCO2_USAGE_LEDGER", str(tmp_path))  # a folder: no ledger to read
    values = usage_page.page_values()
    assert values["rows"] == [] and values["error"].startswith(f"the usage ledger {tmp_path} cannot be read")
    assert "class=\"failed\">the usage ledger" in svc.render("usage.html", title="t", base="/", **values)
