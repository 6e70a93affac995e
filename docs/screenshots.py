"""Make the README's reference screenshots of a seeds report with headless Debian chromium.

Usage: ``rhetoric demo --out /tmp/demo && python docs/screenshots.py /tmp/demo/report.html``
(writes ``docs/report-overview.png`` and ``docs/report-document.png``).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

DOCS = Path(__file__).resolve().parent
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--window-size=1280,860")
DOC_002 = "002_17422850c738e3aa"
SLOGAN = "外防输入、内防扩散"


def main() -> None:
    """Open the report, shoot the overview and document 002 with a highlight's popover open."""
    report = Path(sys.argv[1]).resolve()
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for flag in FLAGS:
        opts.add_argument(flag)
    opts.add_argument(f"--user-data-dir={tempfile.mkdtemp(prefix='shots-')}")
    driver = webdriver.Chrome(options=opts, service=Service("/usr/bin/chromedriver"))
    try:
        driver.get(report.as_uri())
        time.sleep(0.5)
        driver.save_screenshot(str(DOCS / "report-overview.png"))
        driver.get(report.as_uri() + f"#doc={DOC_002}")
        mark = driver.execute_script(
            "const v = document.querySelector(`article[data-doc='${arguments[0]}']`);"
            "return Array.from(v.querySelectorAll('mark.hl')).find(m => m.textContent === arguments[1]);",
            DOC_002, SLOGAN)
        driver.execute_script("window.scrollTo(0, 0)")
        mark.click()  # in view below the title, scores and legend: no scrolling
        time.sleep(0.5)
        driver.save_screenshot(str(DOCS / "report-document.png"))
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
