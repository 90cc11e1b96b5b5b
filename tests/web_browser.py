#!/usr/bin/python3
"""web_browser.py -- the counter's screens in a real browser.

Debian's chromium, headless, driven by chromedriver through selenium,
against a running `jipan-store web`: sign in (a wrong password first),
search by phone and by name, open the card, a bad service entry (its
message shown, nothing written), a good one (on the timeline), sign out.
Each page is saved as a PNG in SHOTS.

usage: web_browser.py URL USER PASSWORD SHOTS
Exit 0 when every check passed; a failure names its step.
"""
import os
import sys

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import browser  # noqa: E402
from browser import chromium  # noqa: E402

url, user, password, shots = sys.argv[1:5]
os.makedirs(shots, exist_ok=True)

driver = chromium(shots)
driver.set_page_load_timeout(20)
step = "start"


def fail(msg):
    print("FAIL [%s]: %s" % (step, msg), file=sys.stderr)
    driver.save_screenshot(os.path.join(shots, "failure.png"))
    print("--- page\n" + driver.page_source[:3000], file=sys.stderr)
    driver.quit()
    sys.exit(1)


def shot(name):
    driver.save_screenshot(os.path.join(shots, name + ".png"))


def submit(el):
    browser.submit(driver, el, timeout=10)


def text(css):
    found = driver.find_elements(By.CSS_SELECTOR, css)
    return found[0].text if found else None


def search(q):
    box = driver.find_element(By.ID, "q")
    box.clear()
    box.send_keys(q)
    submit(driver.find_element(By.ID, "find"))


def service(mileage):
    Select(driver.find_element(By.ID, "service_type")).select_by_value("periodic")
    m = driver.find_element(By.ID, "mileage")
    m.clear()
    m.send_keys(mileage)
    a = driver.find_element(By.ID, "amount")
    a.clear()
    a.send_keys("680")
    submit(driver.find_element(By.ID, "save-service"))


try:
    step = "sign-in page"
    driver.get(url + "/")
    if not driver.current_url.endswith("/login"):
        fail("not sent to /login: %s" % driver.current_url)
    shot("01-login")

    step = "wrong password"
    driver.find_element(By.ID, "user").send_keys(user)
    driver.find_element(By.ID, "password").send_keys("not-the-password")
    submit(driver.find_element(By.ID, "signin"))
    if text("#error") != "用户名或密码错误。":
        fail("no refusal: %r" % text("#error"))

    step = "sign in"
    driver.find_element(By.ID, "user").send_keys(user)
    driver.find_element(By.ID, "password").send_keys(password)
    submit(driver.find_element(By.ID, "signin"))
    if driver.find_elements(By.ID, "q") == []:
        fail("no search box after sign-in")

    step = "search by phone"
    search("13800138000")
    rows = driver.find_elements(By.CSS_SELECTOR, "#results tbody tr")
    if len(rows) != 1 or "王小明" not in rows[0].text:
        fail("phone search: %r" % [r.text for r in rows])
    html = driver.find_element(By.ID, "results").get_attribute("outerHTML")
    if "138****8000" not in rows[0].text or "13800138000" in html:
        fail("the phone is not masked")
    shot("02-search-phone")

    step = "search by name"
    search("王")
    rows = driver.find_elements(By.CSS_SELECTOR, "#results tbody tr")
    names = sorted(r.find_element(By.CSS_SELECTOR, "a.open").text for r in rows)
    if names != ["王小明", "王芳"]:
        fail("name search: %r" % names)
    shot("03-search-name")
    for r in rows:
        if "王小明" in r.text:
            submit(r.find_element(By.CSS_SELECTOR, "a.open"))
            break

    step = "card"
    card = text("#card")
    if not card or "王小明" not in card or "138****8000" not in card:
        fail("card: %r" % card)
    if "4413**********0023" not in card or "441302198001010023" in driver.page_source:
        fail("the ID number is not masked: %r" % card)
    if "粤L12345" not in text("#vehicles"):
        fail("vehicles: %r" % text("#vehicles"))
    before = len(driver.find_elements(By.CSS_SELECTOR, "#timeline tbody tr"))
    shot("04-card")

    step = "bad service entry"
    service("12 km")
    err = text("#error")
    if err != "未保存：里程：须为整数（--mileage: must be a whole number）":
        fail("no validation message: %r" % err)
    after = len(driver.find_elements(By.CSS_SELECTOR, "#timeline tbody tr"))
    if after != before:
        fail("the timeline changed on a refused entry: %d -> %d" % (before, after))
    if driver.find_element(By.ID, "mileage").get_attribute("value") != "12 km":
        fail("what was typed is not kept")
    shot("05-service-refused")
    print("refused: " + err)

    step = "good service entry"
    service("12000")
    if text("#saved") != "已保存。":
        fail("no confirmation: %r" % text("#saved"))
    tl = driver.find_elements(By.CSS_SELECTOR, "#timeline tbody tr")
    if len(tl) != before + 1 or "12000 公里" not in tl[0].text or "维修保养" not in tl[0].text or "定期保养" not in tl[0].text:
        fail("timeline: %r" % [r.text for r in tl])
    shot("06-service-saved")

    step = "complaint"
    def event_form(kind, selects, inputs):
        form = driver.find_element(By.ID, "form-" + kind)
        if form.get_attribute("open") is None:
            form.find_element(By.TAG_NAME, "summary").click()
        for name, value in selects.items():
            Select(driver.find_element(By.ID, "%s-%s" % (kind, name))).select_by_value(value)
        for name, value in inputs.items():
            el = driver.find_element(By.ID, "%s-%s" % (kind, name))
            el.clear()
            el.send_keys(value)
        submit(driver.find_element(By.ID, "save-" + kind))

    event_form("complaint", {"severity": "minor", "subject": "service"}, {"note": "等待时间长"})
    tl = driver.find_elements(By.CSS_SELECTOR, "#timeline tbody tr")
    if text("#saved") != "已保存。" or "投诉" not in tl[0].text:
        fail("complaint: %r" % [r.text for r in tl[:2]])

    step = "complaint's first contact"
    event_form("complaint_contact", {"channel": "phone"}, {})
    tl = driver.find_elements(By.CSS_SELECTOR, "#timeline tbody tr")
    if text("#saved") != "已保存。" or "投诉首次联系" not in tl[0].text:
        fail("complaint contact: %r" % [r.text for r in tl[:2]])
    n_events = len(tl)

    step = "bad survey"
    event_form("survey", {"repurchase": "high", "recommend": "possible"}, {"satisfaction": "9"})
    err = text("#form-survey .error")
    if err != "未保存：满意度：须在 1 到 5 之间（--satisfaction: must be between 1 and 5）":
        fail("no validation message: %r" % err)
    if len(driver.find_elements(By.CSS_SELECTOR, "#timeline tbody tr")) != n_events:
        fail("the timeline changed on a refused survey")
    shot("10-survey-refused")

    step = "today"
    submit(driver.find_element(By.ID, "nav-today"))
    due = text("#due-day3")
    if not due or "王芳" not in due or "139****9000" not in due:
        fail("no day-3 call for 王芳: %r" % due)
    shot("07-today")
    for r in driver.find_elements(By.CSS_SELECTOR, "#due-day3 tbody tr"):
        if "王芳" in r.text:
            submit(r.find_element(By.CSS_SELECTOR, "form.done button"))
            break
    if text("#saved") != "已记录联系。":
        fail("no confirmation: %r" % text("#saved"))
    if "王芳" in (text("#due-day3") or ""):
        fail("the call made is still listed")
    shot("08-today-called")

    step = "report"
    submit(driver.find_element(By.ID, "nav-report"))
    ret = text("#fig-retention")
    if not ret or "首保回厂率" not in ret:
        fail("report: %r" % ret)
    base = text("#fig-base")
    if "保有客户" not in base or "有效客户" not in base:
        fail("report base: %r" % base)
    shot("09-report")

    step = "english"
    driver.get(url + "/lang?to=en")
    search("13800138000")
    if "name" not in text("#results thead"):
        fail("English headers: %r" % text("#results thead"))
    driver.get(url + "/lang?to=zh")

    step = "sign out"
    submit(driver.find_element(By.ID, "logout"))
    if not driver.current_url.endswith("/login"):
        fail("not back at /login: %s" % driver.current_url)
    driver.get(url + "/?q=13800138000")
    if not driver.current_url.endswith("/login"):
        fail("the session outlived sign-out")
except SystemExit:
    raise
except Exception as e:  # a selenium failure names its step too
    fail("%s: %s" % (type(e).__name__, e))
driver.quit()
print("web_browser: all steps passed")
