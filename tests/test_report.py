"""Reuse reports: the report's content, its three formats, the CLI, and the HTML in a real browser."""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import asdict
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import SEEDS, seed_id, seed_text
from hypothesis import given, settings
from hypothesis import strategies as st

from rhetoric import report as rp
from rhetoric.cli import cli
from rhetoric.index import Index

SLOGAN = "外防输入、内防扩散"


@pytest.fixture(scope="module")
def built(hash_index):
    """The seeds' report (hash embedder), built once."""
    with Index.open(hash_index) as ix:
        return rp.build_report(ix, rp.analyze(ix))


@pytest.fixture(scope="module")
def html_file(built, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "report.html"
    rp.write_report(built, out)
    return out


def _doc(report, key):
    return next(d for d in report.documents if d["doc_id"] == seed_id(key))


def _copyright_span(text):
    """Start and end of 002's copyright notice (版权声明 to the end)."""
    return text.index("版权声明"), len(text)


# ------------------------------------------------------------------------------ content


def test_documents_are_ranked_and_spans_point_at_the_text(built):
    scores = [d["reuse_score"] for d in built.documents]
    assert len(scores) == 5 and scores == sorted(scores, reverse=True)
    assert [d["rank"] for d in built.documents] == [1, 2, 3, 4, 5]
    for d in built.documents:
        assert d["text"] == seed_text(d["doc_id"][:3])
        for s in d["spans"]:
            assert d["text"][s["start"] : s["end"]] == s["text"]
        # Within a layer highlights never overlap: each character belongs to one formula, one sentence.
        for layer in ({"slogan", "formula"}, {"semantic"}, {"boilerplate", "mojibake"}):
            spans = sorted((s["start"], s["end"]) for s in d["spans"] if s["kind"] in layer)
            assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))


def test_slogan_in_002_is_a_formula_linking_to_000(built):
    d = _doc(built, "002")
    hits = [s for s in d["spans"] if s["text"] == SLOGAN]
    assert hits, "外防输入、内防扩散 is not highlighted in 002"
    s = hits[0]
    assert s["kind"] in ("slogan", "formula")
    assert s["others"][0] == seed_id("000")
    f = next(f for f in built.formulas if f["id"] == s["formula"])
    assert f["text"] == SLOGAN and seed_id("000") in f["doc_ids"] and seed_id("002") in f["doc_ids"]


def test_boilerplate_is_flagged_and_not_scored(built):
    d = _doc(built, "002")
    a, b = _copyright_span(d["text"])
    flags = [s for s in d["spans"] if s["kind"] == "boilerplate"]
    assert any(s["start"] <= a and s["end"] >= b for s in flags)
    reused = [s for s in d["spans"] if s["kind"] in ("slogan", "formula", "semantic")]
    assert reused and all(s["end"] <= a for s in reused)
    flagged = sum(s["end"] - s["start"] for s in flags)
    assert d["counted_chars"] <= d["chars"] - flagged


def test_others_and_formula_documents_come_earliest_first(built):
    dates = {d["doc_id"]: d["date"] for d in built.documents}

    def key(i):
        return (dates[i] is None, dates[i] or "", i)

    for d in built.documents:
        for s in d["spans"]:
            if "others" in s:
                assert s["others"] == sorted(s["others"], key=key)
                assert d["doc_id"] not in s["others"]
    for f in built.formulas:
        assert f["doc_ids"] == sorted(f["doc_ids"], key=key)
        if f["first_doc"]:
            assert dates[f["first_doc"]] == f["first_seen"] == min(dates[i] for i in f["doc_ids"] if dates[i])


def test_overview_and_reuse_matrix(built):
    ov = built.overview
    assert ov["documents"] == 5 and ov["characters"] == sum(d["chars"] for d in built.documents)
    assert ov["date_range"] == ["2020-02-04", "2022-02-10"] and ov["months"][0] == "2020-02"
    assert ov["thresholds"]["score_weights"] == {"coverage": 0.5, "near_duplicate_share": 0.35, "repetition": 0.15}
    assert built.reuse["mode"] == "matrix" and len(built.reuse["doc_ids"]) == 5
    pair = next(p for p in built.reuse["pairs"] if {p["a"], p["b"]} == {seed_id("000"), seed_id("002")})
    assert 0 < pair["score"] <= 1 and pair["formulas"] >= 1


# ------------------------------------------------------------------------------ formats


def test_json_is_the_report(built):
    data = json.loads(rp.render_json(built))
    assert data == json.loads(json.dumps(asdict(built), ensure_ascii=False))
    assert data["schema"] == "rhetoric-report" and data["version"] == rp.SCHEMA_VERSION
    assert set(data) >= {"overview", "formulas", "documents", "directives", "reuse"}


def test_markdown_marks_spans_and_boilerplate(built):
    md = rp.render_markdown(built)
    for heading in ("## Overview", "## Formulas", "## Documents", "## Directives", "## Document views"):
        assert heading in md
    view = md[md.index(f'<a id="doc-{seed_id("002")}">') :]
    view = view[: view.index("\n### ")] if "\n### " in view else view
    assert f"<mark>{SLOGAN}</mark>" in view
    assert "<s>版权声明" in view or "<s>" in view[view.index("版权声明") - 40 : view.index("版权声明")]


def test_html_is_self_contained(html_file):
    page = html_file.read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "<link" not in page and "@import" not in page and "url(" not in page
    assert "<script src" not in page
    assert "&lt;" not in SLOGAN and SLOGAN in page


def test_html_escapes_document_text(built):
    evil = dict(built.documents[0], text="<script>alert(1)</script>&" + "x" * 10, spans=[])
    page = rp.render_html(rp.Report(**{**asdict(built), "documents": [evil]}))["report.html"]
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;&amp;" in page


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="ab\n、。", max_size=30),
       st.lists(st.tuples(st.integers(0, 30), st.integers(0, 30)), max_size=6))
def test_nest_balances_tags_and_keeps_the_text(text, raw):
    spans = [{"start": min(a, b), "end": max(a, b), "kind": "formula"} for a, b in raw]
    events = rp._nest(text, spans)
    assert "".join(v for e, v in events if e == "text") == text
    stack = []
    for e, v in events:
        if e == "open":
            stack.append(id(v))
        elif e == "close":
            assert stack.pop() == id(v)
    assert not stack
    for s in spans:  # every character inside a span is inside its element
        inside, pos = 0, 0
        for e, v in events:
            if e == "text":
                if inside and v:
                    assert s["start"] <= pos and pos + len(v) <= s["end"]
                pos += len(v)
            elif v is s:
                inside += 1 if e == "open" else -1


def test_large_reports_split_into_linked_pages(built, tmp_path, monkeypatch):
    monkeypatch.setattr(rp, "PAGE_MAX_CHARS", 3000)  # about two seeds per page
    written = rp.write_report(built, tmp_path / "big.html", single_page=False)
    folder = tmp_path / "big_pages"
    assert written.pages_folder == str(folder) and written.files == 1 + len(list(folder.glob("p*.html"))) > 2
    index = (tmp_path / "big.html").read_text(encoding="utf-8")
    assert "<article" not in index
    pages = {p.name: p.read_text(encoding="utf-8") for p in folder.glob("p*.html")}
    links = re.findall(r'href="big_pages/(p\d+\.html)#doc=([^"&]+)', index)
    assert {d for _, d in links} == {d["doc_id"] for d in built.documents}
    for page, doc in links:
        assert f'data-doc="{doc}"' in pages[page]
    for name, page in pages.items():  # links between pages land on the page holding the document
        for target, doc in re.findall(r'href="(p\d+\.html)?#doc=([^"&]+)', page):
            assert f'data-doc="{doc}"' in pages[target or name]
    # Writing again replaces the folder whole (no stale temporary folders left).
    rp.write_report(built, tmp_path / "big.html", single_page=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.html", "big_pages"]


def test_format_from_extension_and_clear_errors(built, tmp_path):
    assert rp.format_for("a.HTML") == "html" and rp.format_for("a.md") == "md" and rp.format_for("x", "json") == "json"
    with pytest.raises(rp.ReportError, match=r"a\.txt: cannot tell the report format"):
        rp.format_for("a.txt")
    with pytest.raises(rp.ReportError, match="is a folder"):
        rp.write_report(built, tmp_path, "html")
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------ CLI


def test_report_command_writes_each_format(hash_index, tmp_path):
    runner = CliRunner()
    res = runner.invoke(cli, ["report", "--index", str(hash_index), "--out", str(tmp_path / "r.html"), "--json"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output)
    assert summary["written"]["path"] == str(tmp_path / "r.html") and summary["documents"] == 5
    assert summary["written"]["bytes"] == (tmp_path / "r.html").stat().st_size
    res = runner.invoke(cli, ["report", "--index", str(hash_index), "--out", str(tmp_path / "r.txt"),
                              "--format", "md", "--quiet"])
    assert res.exit_code == 0 and res.output == ""
    assert (tmp_path / "r.txt").read_text(encoding="utf-8").startswith("# rhetoric report: 5 documents")


def test_no_semantic_skips_near_duplicates_and_clusters(hash_index, tmp_path):
    res = CliRunner().invoke(cli, ["report", "--index", str(hash_index), "--out", str(tmp_path / "r.json"),
                                   "--no-semantic", "--quiet"])
    assert res.exit_code == 0, res.output
    data = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert data["directives"]["clusters"] == [] and data["overview"]["near_duplicate_pairs"] == 0
    assert set(data["overview"]["analysis_seconds"]) == {"formulas", "scores"}
    assert all(s["kind"] != "semantic" for d in data["documents"] for s in d["spans"])
    assert all(d["near_duplicate_share"] == 0 for d in data["documents"])
    doc_002 = next(d for d in data["documents"] if d["doc_id"] == seed_id("002"))
    assert any(s["text"] == SLOGAN for s in doc_002["spans"])


def test_report_command_errors_are_one_line(hash_index, tmp_path):
    runner = CliRunner()
    res = runner.invoke(cli, ["report", "--index", str(hash_index), "--out", str(tmp_path / "r.pdf")])
    assert res.exit_code == 1 and res.output.startswith("Error: ") and "r.pdf" in res.output
    res = runner.invoke(cli, ["report", "--index", str(tmp_path / "none"), "--out", str(tmp_path / "r.html")])
    assert res.exit_code == 1 and "no index here" in res.output
    assert runner.invoke(cli, ["report", "--index", str(hash_index)]).exit_code == 2  # --out is required


def test_demo_builds_the_seeds_and_writes_three_reports(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no ./seeds here: the demo finds the checkout's
    res = CliRunner().invoke(cli, ["demo", "--out", "demo", "--model", "hash", "--json"])
    assert res.exit_code == 0, res.output
    result = json.loads(res.output)
    assert result["documents"] == 5 and Path(result["seeds"]).resolve() == SEEDS.resolve()
    assert (tmp_path / "demo" / "index" / "manifest.json").exists()
    for fmt in ("html", "md", "json"):
        assert (tmp_path / "demo" / f"report.{fmt}").stat().st_size > 10_000
    assert json.loads((tmp_path / "demo" / "report.json").read_text(encoding="utf-8"))["overview"]["documents"] == 5


def test_demo_without_seeds_fails_clearly(tmp_path):
    res = CliRunner().invoke(cli, ["demo", "--out", str(tmp_path / "d"), "--seeds", str(tmp_path), "--model", "hash"])
    assert res.exit_code == 1 and "no sample bulletins" in res.output and str(tmp_path) in res.output


# ------------------------------------------------------------------------------ browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """Headless Debian chromium through selenium; skipped outside CI when it is missing."""
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.path.exists(p)]
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        missing.append("selenium (pip install -e '.[test]')")
    if missing:
        reason = f"browser test needs {', '.join(missing)} (apt-get install chromium chromium-driver)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--hide-scrollbars", "--window-size=1280,900"):
        opts.add_argument(flag)
    opts.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    driver = webdriver.Chrome(options=opts, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def _visible_texts(driver, selector):
    """Text of the displayed elements matching ``selector`` (one script call, not one per element)."""
    return driver.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0]))"
        ".filter(e => e.offsetParent !== null).map(e => e.textContent)", selector)


@pytest.mark.browser
def test_seeds_report_in_a_browser(browser, html_file, built, tmp_path):
    from selenium.webdriver.common.by import By

    d = browser
    d.get(html_file.as_uri())
    assert d.find_element(By.ID, "overview").is_displayed()
    assert d.save_screenshot(str(tmp_path / "overview.png")) and (tmp_path / "overview.png").stat().st_size > 20_000
    assert d.find_element(By.CSS_SELECTOR, "#overview .card b").text == "5"

    # Document 002: 外防输入、内防扩散 is highlighted as a formula and links to document 000.
    d.get(html_file.as_uri() + f"#doc={seed_id('002')}")
    view = d.find_element(By.CSS_SELECTOR, f'article[data-doc="{seed_id("002")}"]')
    assert view.is_displayed() and not d.find_element(By.ID, "index-view").is_displayed()
    mark = d.execute_script(
        "return Array.from(arguments[0].querySelectorAll('.doctext mark.hl.fx'))"
        ".find(m => m.textContent === arguments[1]) || null", view, SLOGAN)
    assert mark is not None, "no highlighted 外防输入、内防扩散 in 002"
    assert mark.get_attribute("data-kind") in ("slogan", "formula")
    assert mark.value_of_css_property("background-color") not in ("rgba(0, 0, 0, 0)", "transparent")
    formula_row = d.find_element(By.ID, f"formula-{mark.get_attribute('data-f')}")
    assert formula_row.find_element(By.CSS_SELECTOR, ".ftext").get_attribute("textContent") == SLOGAN
    d.execute_script("arguments[0].scrollIntoView({block: 'center'})", mark)
    mark.click()
    pop = d.find_element(By.ID, "pop")
    assert pop.is_displayed()
    links = pop.find_elements(By.CSS_SELECTOR, ".others a")
    assert links and f"doc={seed_id('000')}" in links[0].get_attribute("href")
    d.save_screenshot(str(tmp_path / "document.png"))

    # Its boilerplate (版权声明 …) is greyed, holds no highlight, and is not in the scores.
    bp = d.execute_script(
        "return Array.from(arguments[0].querySelectorAll('.doctext .flag.bp'))"
        ".find(e => e.textContent.includes('版权声明')) || null", view)
    assert bp is not None and bp.is_displayed()
    r, g, b = (int(x) for x in re.findall(r"\d+", bp.value_of_css_property("color"))[:3])
    assert abs(r - g) < 20 and abs(g - b) < 20 and 100 < r < 200  # grey, not black text
    assert not bp.find_elements(By.CSS_SELECTOR, ".hl")
    starts = [int(x) for x in d.execute_script(
        "return Array.from(arguments[0].querySelectorAll('.doctext .hl')).map(m => m.dataset.s)", view)]
    assert max(starts) < _copyright_span(seed_text("002"))[0]
    rows = _visible_texts(d, f'article[data-doc="{seed_id("002")}"] table.evidence td')
    assert rows and all("版权声明" not in t for t in rows)

    # Following the link opens document 000 there.
    links[0].click()
    assert d.find_element(By.CSS_SELECTOR, f'article[data-doc="{seed_id("000")}"]').is_displayed()

    # The formulas table sorts by a clicked column, and back the other way.
    d.get(html_file.as_uri() + "#formulas")
    table = d.find_element(By.ID, "formulas-table")
    header = next(th for th in table.find_elements(By.CSS_SELECTOR, "thead th") if th.text.startswith("documents"))
    col = [th.text for th in table.find_elements(By.CSS_SELECTOR, "thead th")].index(header.text)

    def column():
        return [int(v) for v in d.execute_script(
            "return Array.from(document.querySelectorAll('#formulas-table tbody tr'))"
            ".filter(r => !r.hidden).map(r => r.cells[arguments[0]].dataset.v)", col)]

    before = column()
    everything = sorted((f["documents"] for f in built.formulas), reverse=True)
    assert before != everything[: len(before)]  # ranked by score, not by documents
    header.click()
    assert header.get_attribute("aria-sort") == "descending"
    assert column() == everything[: len(before)]
    header.click()
    assert column() == sorted(everything)[: len(before)]

    # And filters.
    box = d.find_element(By.CSS_SELECTOR, '[data-filter="formulas-table"]')
    box.send_keys("守土")
    texts = _visible_texts(d, "#formulas-table tbody tr .ftext")
    assert texts and all("守土" in t for t in texts)
