"""tests/lib/browser.py -- what the browser tests share: Debian's chromium,
headless, through chromedriver (python3-selenium), and a click that waits
for the page it asks for.  Imported by tests/web_browser.py and
tests/dash_browser.py (not a test itself)."""
import os

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import WebDriverWait


def chromium(shots, downloads=None):
    """A headless chromium in Chinese, its profile under SHOTS; files it
    downloads go to DOWNLOADS when given."""
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1200,1000", "--lang=zh-CN", "--no-first-run",
              "--user-data-dir=" + os.path.join(shots, ".profile")):
        opts.add_argument(a)
    if downloads:
        opts.add_experimental_option("prefs", {"download.default_directory": downloads,
                                               "download.prompt_for_download": False})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    driver.set_page_load_timeout(30)
    if downloads:
        driver.execute_cdp_cmd("Page.setDownloadBehavior",
                               {"behavior": "allow", "downloadPath": downloads})
    return driver


def submit(driver, el, timeout=20):
    """Click el and wait until the page it asks for has replaced this one.

    The old page is marked with a window property, which the new page
    does not have.  While the browser is between the two, chromedriver
    may answer with any of its errors (a stale element, or "Node with
    given id does not belong to the document"): those mean "not yet".
    """
    driver.execute_script("window.__jpOld = true;")
    el.click()

    def replaced(d):
        try:
            return d.execute_script(
                "return window.__jpOld !== true && document.readyState === 'complete';")
        except WebDriverException:
            return False

    WebDriverWait(driver, timeout).until(replaced)
