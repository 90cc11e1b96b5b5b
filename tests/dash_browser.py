#!/usr/bin/python3
"""dash_browser.py -- the group's dashboard (jipan-web) in a real browser.

Debian's chromium, headless, driven by chromedriver through selenium,
against two running jipan-web: one holding a group key, one a region
key.  The figures on the pages are checked against `jipan-query report
--format json` for the same scope (the group key's), asked right after
the page; when the two are not of the same instant (the server's live
base moved on between them) both are asked again.

  - sign in (a wrong password first); the group's page; drill-down by
    the links to a region, then a store: every figure of each page
    (numerator, denominator, value) equals jipan-query's;
  - the trends: the charts are drawn (the script loaded /series.json),
    the month-by-month table has 24 months, its last month's customers
    equal the report's;
  - the churn warning list equals jipan-query at-risk's, phones masked;
  - the cohort form: the seed's filter gives jipan-query's numbers; a bad
    filter shows the server's reason;
  - downloads: the workbook (.xlsx, a zip: its figures sheet read with
    zipfile) and the CSV hold the page's figures;
  - the print layout (A4, navigation hidden) and a PDF of it;
  - English on the switch;
  - the region key's dashboard: its own region, no group link; the
    group, another region and another region's store are refused (403)
    by link and by editing the address.

usage: dash_browser.py GROUP_URL REGION_URL USER PASSWORD SHOTS QUERY...
QUERY is the jipan-query command line with the group key, server and
server key (the scope and format are added).  Exit 0 when every check
passed; a failure names its step.
"""
import csv
import io
import json
import os
import subprocess
import sys
import time
import zipfile
import xml.etree.ElementTree as ET

from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import browser  # noqa: E402
from browser import chromium  # noqa: E402

gurl, rurl, user, password, shots = sys.argv[1:6]
query = sys.argv[6:]
downloads = os.path.join(shots, ".downloads")
os.makedirs(downloads, exist_ok=True)

driver = chromium(shots, downloads)
step = "start"
T_START = time.time()


def took():
    return "%.1f s" % (time.time() - T_START)


def fail(msg):
    print("FAIL [%s] at %s: %s" % (step, took(), msg), file=sys.stderr)
    driver.save_screenshot(os.path.join(shots, "failure.png"))
    print("--- page\n" + driver.page_source[:3000], file=sys.stderr)
    driver.quit()
    sys.exit(1)


def shot(name, full=False):
    if full:
        h = driver.execute_script("return document.documentElement.scrollHeight;")
        driver.set_window_size(1200, min(h + 40, 6000))
    driver.save_screenshot(os.path.join(shots, name + ".png"))
    if full:
        driver.set_window_size(1200, 1000)


def submit(el):
    browser.submit(driver, el)


def text(css):
    found = driver.find_elements(By.CSS_SELECTOR, css)
    return found[0].text if found else None


def jq(*args):
    out = subprocess.run(query + list(args), capture_output=True, text=True)
    if out.returncode != 0:
        fail("jipan-query %s: %s" % (" ".join(args), out.stderr.strip()))
    return out.stdout


def report(scope, *more):
    return json.loads(jq("report", "--scope", scope, "--format", "json", *more))


def value(rep, key):
    """A figure of the report by its row key (section.dotted.name)."""
    v = rep
    for k in key.split("."):
        v = v[k]
    return v


def cells_of(v):
    """What the figures table shows of JSON value v: numerator, denominator, value."""
    if isinstance(v, dict):
        pct = "—" if v["pct"] is None else "%.2f" % v["pct"]
        return [str(v["num"]), str(v["den"]), pct]
    if v is None:
        return ["—", "—", "—"]
    if isinstance(v, float):
        return ["—", "—", "%.2f" % v]
    return ["—", "—", str(v)]


def table_rows(table_id):
    """[(data-key, [td texts])] of a table's body, in one round trip."""
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('#' + arguments[0] + ' tbody tr'))"
        ".map(function(tr){return [tr.getAttribute('data-key'),"
        " Array.from(tr.querySelectorAll('td')).map(function(td){return td.innerText;})];});",
        table_id)


def page_figures():
    return {k: tds[-3:] for k, tds in table_rows("t-figures")}


def money_fix(key, want):
    # Revenue is fen in JSON, yuan on the page.
    if key == "loyalty.value_concentration.revenue_fen":
        return ["—", "—", "%d.%02d" % divmod(int(want[2]), 100)]
    return want


def check_figures(scope):
    """Every figure on this page equals jipan-query's for scope, same instant."""
    for attempt in range(3):
        page_asof = text("#as-of")
        rep = report(scope)
        if rep["as_of"] == page_asof:
            break
        driver.refresh()  # the live base moved on: both again
    else:
        fail("the page's instant never met jipan-query's: %s vs %s" % (page_asof, rep["as_of"]))
    rows = page_figures()
    if len(rows) < 90:
        fail("only %d figures on the page" % len(rows))
    for key, shown in rows.items():
        want = money_fix(key, cells_of(value(rep, key)))
        if shown != want:
            fail("%s: page %r, jipan-query %r" % (key, shown, want))
    cards = driver.execute_script(
        "return Array.from(document.querySelectorAll('#cards .card')).map(function(c){"
        "return [c.getAttribute('data-key'), c.querySelector('.value').innerText,"
        " c.querySelector('.of').innerText];});")
    if len(cards) != 8:
        fail("%d cards" % len(cards))
    for key, shown, of in cards:
        v = value(rep, key)
        if isinstance(v, dict):
            want = ("—" if v["pct"] is None else "%.2f%%" % v["pct"], "%d / %d" % (v["num"], v["den"]))
        else:
            want = ("—" if v is None else "%.2f" % v if isinstance(v, float) else str(v), "")
        if (shown, of) != want:
            fail("card %s: %r, jipan-query %r" % (key, (shown, of), want))
    regional = table_rows("t-regional")
    if len(regional) != len(rep["regional"]) + 1:
        fail("regional rows: page %d, jipan-query %d" % (len(regional), len(rep["regional"])))
    for (_, tds), d in zip(regional, rep["regional"]):
        got = [int(t) for t in tds][:6]
        want = [d["now"]["quality"], d["now"]["potential"], d["now"]["general"],
                d["year_ago"]["quality"], d["year_ago"]["potential"], d["year_ago"]["general"]]
        if got != want:
            fail("regional %s: page %r, jipan-query %r" % (d["district"], got, want))
    return rep, len(rows)


def wait_charts():
    WebDriverWait(driver, 60).until(
        lambda d: d.find_element(By.ID, "trends").get_attribute("data-state") != "wait")
    state = driver.find_element(By.ID, "trends").get_attribute("data-state")
    if state != "loaded":
        fail("the trends did not load: %s" % text("#trends-status"))
    drawn = driver.execute_script(
        "return Array.from(document.querySelectorAll('#trends canvas')).filter("
        "function(c){return Chart.getChart(c) !== undefined;}).length;")
    if drawn != 4:
        fail("%s of 4 charts drawn" % drawn)


def sign_in(url):
    driver.get(url + "/")
    if not driver.current_url.endswith("/login"):
        fail("not sent to /login: %s" % driver.current_url)
    driver.find_element(By.ID, "user").send_keys(user)
    driver.find_element(By.ID, "password").send_keys(password)
    submit(driver.find_element(By.ID, "signin"))


def fetched(name_part, before, timeout=30):
    """The file that appeared in downloads with name_part in its name."""
    end = time.time() + timeout
    while time.time() < end:
        now = set(os.listdir(downloads)) - before
        done = [f for f in now if name_part in f and not f.endswith(".crdownload")]
        if done:
            return os.path.join(downloads, done[0])
        time.sleep(0.2)
    fail("no download named *%s* in %d s (%r)" % (name_part, timeout, os.listdir(downloads)))


def xlsx_sheets(path):
    """{sheet name: [[cell text]]} of an .xlsx, read as the zip it is."""
    ns = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
          "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships"}
    z = zipfile.ZipFile(path)
    shared = []
    if "xl/sharedStrings.xml" in z.namelist():
        for si in ET.fromstring(z.read("xl/sharedStrings.xml")).findall("m:si", ns):
            shared.append("".join(t.text or "" for t in si.iter("{%s}t" % ns["m"])))
    rels = {r.get("Id"): r.get("Target") for r in
            ET.fromstring(z.read("xl/_rels/workbook.xml.rels"))}
    out = {}
    for s in ET.fromstring(z.read("xl/workbook.xml")).find("m:sheets", ns):
        target = rels[s.get("{%s}id" % ns["r"])]
        root = ET.fromstring(z.read("xl/" + target.lstrip("/").replace("xl/", "")))
        grid = []
        for row in root.iter("{%s}row" % ns["m"]):
            line = []
            for c in row.findall("m:c", ns):
                col = "".join(ch for ch in c.get("r") if ch.isalpha())
                idx = 0
                for ch in col:
                    idx = idx * 26 + ord(ch) - 64
                while len(line) < idx - 1:
                    line.append("")
                v = c.find("m:v", ns)
                t = v.text if v is not None else ""
                line.append(shared[int(t)] if c.get("t") == "s" else t)
            grid.append(line)
        out[s.get("name")] = grid
    return out


def same(cells, want):
    """A workbook's or CSV's numbers against the page's text of them."""
    for c, w in zip(cells, want):
        if (c == "") != (w == "—"):
            return False
        if c != "" and abs(float(c) - float(w)) > 0.005:
            return False
    return True


try:
    step = "sign-in page, a wrong password"
    driver.get(gurl + "/")
    driver.find_element(By.ID, "user").send_keys(user)
    driver.find_element(By.ID, "password").send_keys("not-the-password")
    submit(driver.find_element(By.ID, "signin"))
    if text("#error") != "用户名或密码错误。":
        fail("no refusal: %r" % text("#error"))
    shot("dash-01-login")

    step = "sign in: the group's page"
    driver.find_element(By.ID, "user").send_keys(user)
    driver.find_element(By.ID, "password").send_keys(password)
    t0 = time.time()
    submit(driver.find_element(By.ID, "signin"))
    first_ms = (time.time() - t0) * 1000
    if "集团 · 忠诚度月报" not in (text("#title") or ""):
        fail("not the group's report after sign-in: %r" % text("#title"))
    grp, n = check_figures("group")
    print("group: %d figures equal jipan-query's (first page %.0f ms after sign-in)" % (n, first_ms))
    wait_charts()
    shot("dash-02-group", full=True)

    step = "drill-down to a region"
    links = driver.find_elements(By.CSS_SELECTOR, "#children a.region")
    hz = [a for a in links if "惠州" in a.text]
    if len(links) < 2 or not hz:
        fail("regions listed: %r" % [a.text for a in links])
    submit(hz[0])
    if "区域 惠州" not in text("#title"):
        fail("not the region's page: %r" % text("#title"))
    reg, n = check_figures("region:惠州")
    if reg["stores"] == grp["stores"]:
        fail("the region's stores are the group's")
    print("region 惠州: %d figures equal" % n)
    wait_charts()
    shot("dash-03-region")

    step = "drill-down to a store"
    stores = driver.find_elements(By.CSS_SELECTOR, "#children a.store")
    if len(stores) != len(reg["stores"]):
        fail("stores listed %r, the region has %r" % ([a.text for a in stores], reg["stores"]))
    href = stores[0].get_attribute("href")
    num = href.rsplit(":", 1)[1]
    submit(stores[0])
    sto, n = check_figures("store:" + num)
    print("store %s: %d figures equal" % (num, n))
    if driver.find_elements(By.ID, "crumb-region") == []:
        fail("no way back to the region from the store")
    shot("dash-04-store")

    print("drill-down done at %s" % took())
    step = "trends: every figure month by month"
    submit(driver.find_element(By.ID, "tab-trends"))
    heads = [th.text for th in driver.find_elements(By.CSS_SELECTOR, "#t-series thead th")]
    if len(heads) != 25:
        fail("%d months in the table" % (len(heads) - 1))
    row = driver.find_element(By.CSS_SELECTOR, "#t-series tr[data-key='base.customers']")
    last = row.find_elements(By.TAG_NAME, "td")[-1].text
    if last != str(sto["base"]["customers"]):
        fail("the last month's customers %s, the report's %s" % (last, sto["base"]["customers"]))
    shot("dash-05-trends")

    step = "the churn warning list"
    submit(driver.find_element(By.ID, "tab-at-risk"))
    want = json.loads(jq("at-risk", "--scope", "store:" + num, "--format", "json"))
    rows = table_rows("t-at_risk")
    if len(rows) != min(want["count"], 500) or text("#count") != str(want["count"]):
        fail("%d owners on the page, jipan-query %d" % (len(rows), want["count"]))
    for (key, tds), it in zip(rows, want["items"]):
        if key != it["customer"] or tds[1] != (it["phone"] or ""):
            fail("owner %s: page %r" % (it["customer"], tds))
        if it["phone"] and "****" not in tds[1]:
            fail("a phone is not masked: %r" % tds[1])
    print("at risk at store %s: %d owners equal" % (num, len(rows)))
    shot("dash-06-at-risk")

    step = "the cohort filter"
    driver.get(gurl + "/cohort?s=group")
    shot("dash-07-cohort-form")
    v = driver.find_element(By.ID, "visits")
    v.clear()
    v.send_keys("2")
    submit(driver.find_element(By.ID, "cohort-go"))
    expr = "daily_km 5..500, age_days >213, visits >=2"
    got = [text("#cohort-num"), text("#cohort-den")]
    m = report("group", "--filter", expr)["cohort"]["matched"]
    if got != [str(m["num"]), str(m["den"])] or m["num"] == 0:
        fail("cohort %r, jipan-query %r" % (got, m))
    print("cohort '%s': %s / %s, equal" % (expr, got[0], got[1]))
    shot("dash-08-cohort")
    f = driver.find_element(By.ID, "filter")
    f.send_keys("speed >3")
    submit(driver.find_element(By.ID, "cohort-go"))
    if "unknown field 'speed'" not in (text("#error") or ""):
        fail("a bad filter: %r" % text("#error"))

    step = "downloads: the workbook and the CSV"
    driver.get(gurl + "/scope?s=group")
    before = set(os.listdir(downloads))
    driver.find_element(By.ID, "dl-all-xlsx").click()
    xlsx = fetched(".xlsx", before)
    before = set(os.listdir(downloads))
    driver.find_element(By.ID, "dl-figures-csv").click()
    csvf = fetched(".csv", before)
    rep = report("group")
    keys = list(page_figures().keys())
    sheets = xlsx_sheets(xlsx)
    if list(sheets) != ["指标", "区域集中度", "月度趋势", "流失预警"]:
        fail("the workbook's sheets: %r" % list(sheets))
    fig = sheets["指标"]
    with open(csvf, encoding="utf-8-sig") as fh:
        lines = list(csv.reader(fh))
    if len(fig) != len(keys) + 1 or len(lines) != len(keys) + 1:
        fail("rows: workbook %d, CSV %d, page %d" % (len(fig) - 1, len(lines) - 1, len(keys)))
    for k, xr, cr in zip(keys, fig[1:], lines[1:]):
        want = money_fix(k, cells_of(value(rep, k)))
        for name, r in (("workbook", xr), ("CSV", cr)):
            r = (r + ["", "", "", "", ""])[:5]
            if not same(r[2:5], want):
                fail("%s %s: %r, jipan-query %r" % (name, k, r, want))
    if fig[1][1].strip() != "客户数（范围内人数）":
        fail("the workbook's first figure: %r" % fig[1])
    print("downloads: %s and %s hold the %d figures" % (os.path.basename(xlsx),
                                                        os.path.basename(csvf), len(keys)))

    print("downloads done at %s" % took())
    step = "the print layout (A4)"
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    if driver.find_element(By.TAG_NAME, "header").is_displayed():
        fail("the navigation prints")
    if driver.find_element(By.ID, "dl-figures-csv").is_displayed():
        fail("the download links print")
    driver.set_window_size(794, 1123)  # A4 at 96 dpi
    driver.execute_script("window.scrollTo(0, 0);")
    time.sleep(0.5)  # the charts follow the new width
    driver.save_screenshot(os.path.join(shots, "dash-12-print.png"))
    driver.set_window_size(1200, 1000)
    pdf = driver.execute_cdp_cmd("Page.printToPDF", {"paperWidth": 8.27, "paperHeight": 11.69,
                                                     "preferCSSPageSize": True})
    import base64
    data = base64.b64decode(pdf["data"])
    if not data.startswith(b"%PDF"):
        fail("no PDF")
    with open(os.path.join(shots, "monthly-report.pdf"), "wb") as fh:
        fh.write(data)
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
    print("print: a PDF of %d bytes" % len(data))

    step = "English"
    submit(driver.find_element(By.LINK_TEXT, "English"))
    driver.get(gurl + "/scope?s=group")
    if "Monthly loyalty report" not in text("#title"):
        fail("no English: %r" % text("#title"))
    th = driver.find_element(By.CSS_SELECTOR,
                             "#t-figures tr[data-key='retention.first_maintenance_return'] td")
    if "first-maintenance return rate" not in th.text:
        fail("the figure's words: %r" % th.text)
    shot("dash-09-english")
    submit(driver.find_element(By.LINK_TEXT, "简体中文"))
    submit(driver.find_element(By.ID, "logout"))

    step = "the region key's dashboard"
    sign_in(rurl)
    if "区域 惠州" not in text("#title"):
        fail("the region dashboard's home: %r" % text("#title"))
    if driver.find_elements(By.ID, "crumb-group"):
        fail("a link to the group's page")
    check_figures("region:惠州")
    shot("dash-10-region-key")
    for path, what in (("/scope?s=group", "the group"), ("/scope?s=region:深圳", "another region"),
                       ("/at-risk?s=group", "the group's list"),
                       ("/download?s=group&t=figures&f=csv", "the group's download")):
        driver.get(rurl + path)
        err = text("#error") or ""
        if "无权查看" not in err:
            fail("%s by its address: %r" % (what, err))
    # Another region's store, by editing a link of its own page.
    other = [s for s in grp["stores"] if s not in reg["stores"]][0]
    driver.get(rurl + "/scope?s=store:%d" % other)
    if "无权查看" not in (text("#error") or ""):
        fail("store %d of another region: %r" % (other, text("#error")))
    shot("dash-11-region-refused")
    print("region key: its region only (4 addresses and store %d refused)" % other)
    submit(driver.find_element(By.ID, "logout"))
except WebDriverException as e:
    fail("browser: %s" % e)

driver.quit()
print("dash_browser: OK in %s" % took())
