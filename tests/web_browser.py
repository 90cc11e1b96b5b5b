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

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

url, user, password, shots = sys.argv[1:5]
os.makedirs(shots, exist_ok=True)

opts = webdriver.ChromeOptions()
opts.binary_location = "/usr/bin/chromium"
for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
          "--window-size=1200,1000", "--lang=zh-CN", "--no-first-run",
          "--user-data-dir=" + os.path.join(shots, ".profile")):
    opts.add_argument(a)
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
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


def text(css):
    found = driver.find_elements(By.CSS_SELECTOR, css)
    return found[0].text if found else None


def search(q):
    box = driver.find_element(By.ID, "q")
    box.clear()
    box.send_keys(q)
    driver.find_element(By.ID, "find").click()


def service(mileage):
    Select(driver.find_element(By.ID, "service_type")).select_by_value("periodic")
    m = driver.find_element(By.ID, "mileage")
    m.clear()
    m.send_keys(mileage)
    a = driver.find_element(By.ID, "amount")
    a.clear()
    a.send_keys("680")
    driver.find_element(By.ID, "save-service").click()


try:
    step = "sign-in page"
    driver.get(url + "/")
    if not driver.current_url.endswith("/login"):
        fail("not sent to /login: %s" % driver.current_url)
    shot("01-login")

    step = "wrong password"
    driver.find_element(By.ID, "user").send_keys(user)
    driver.find_element(By.ID, "password").send_keys("not-the-password")
    driver.find_element(By.ID, "signin").click()
    if text("#error") != "用户名或密码错误。":
        fail("no refusal: %r" % text("#error"))

    step = "sign in"
    driver.find_element(By.ID, "user").send_keys(user)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.ID, "signin").click()
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
            r.find_element(By.CSS_SELECTOR, "a.open").click()
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
    if not err or "--mileage" not in err or not err.startswith("未保存："):
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
    if len(tl) != before + 1 or "12000 km" not in tl[0].text or "维修保养" not in tl[0].text:
        fail("timeline: %r" % [r.text for r in tl])
    shot("06-service-saved")

    step = "english"
    driver.get(url + "/lang?to=en")
    search("13800138000")
    if "name" not in text("#results thead"):
        fail("English headers: %r" % text("#results thead"))
    driver.get(url + "/lang?to=zh")

    step = "sign out"
    driver.find_element(By.ID, "logout").click()
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
