"""Drives resmond's dashboard in headless Chromium (chromium-driver) with selenium.

Run by Tests/DaemonTests/DashboardBrowserTests.swift against a real resmond:
    dashboard_browser.py BASE_URL UNIX_SOCKET ARTIFACT_DIR [TOKEN]
Prints one line per check ("ok: ..." or "FAIL: ...") and exits 1 when any check failed, 3 when
Chromium cannot start at all.
"""
import http.client
import json
import os
import socket
import subprocess
import sys
import time
import urllib.parse

from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

BASE, SOCKET, ARTIFACTS = sys.argv[1], sys.argv[2], sys.argv[3]
TOKEN = sys.argv[4] if len(sys.argv) > 4 else None
XSS = "<img src=x onerror=alert(1)>"
failures = []


class UnixConnection(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(SOCKET)


def admin(method, path, body=None):
    """A write through the Unix socket, the administration path."""
    connection = UnixConnection("localhost", timeout=20)
    connection.request(method, path, body=json.dumps(body) if body is not None else None,
                       headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    text = response.read().decode()
    connection.close()
    if response.status >= 300:
        raise RuntimeError(f"{method} {path}: {response.status} {text}")
    return json.loads(text) if text else None


def check(name, condition, detail=""):
    print(("ok: " if condition else "FAIL: ") + name + ("" if condition else f" ({detail})"), flush=True)
    if not condition:
        failures.append(name)


def wait(driver, script, timeout=60):
    """Polls `script` in the page until it returns a truthy value; the last value."""
    deadline = time.time() + timeout
    value = None
    while time.time() < deadline:
        try:
            value = driver.execute_script(script)
        except WebDriverException as error:
            value = None
            print("  (script error: %s)" % str(error).splitlines()[0], flush=True)
        if value:
            return value
        time.sleep(0.25)
    return value


def no_alert(driver):
    try:
        driver.switch_to.alert
        return False
    except NoAlertPresentException:
        return True


def shot(driver, name):
    path = os.path.join(ARTIFACTS, f"dashboard-{name}.png")
    driver.save_screenshot(path)
    print(f"  screenshot {path}", flush=True)


def main():
    os.makedirs(ARTIFACTS, exist_ok=True)
    # A process whose command line is markup: the processes table must show it as text.
    # Its name (comm, 15 bytes at most) is markup too.
    decoy = subprocess.Popen([XSS, "-c", f"open('/proc/self/comm', 'w').write({XSS[:15]!r}); import time; time.sleep(600)"],
                             executable=sys.executable)
    admin("PUT", "/v1/statistics/" + "app:dash:level", {"value": 1, "unit": "", "help": "level " + XSS})
    admin("PUT", "/v1/statistics/" + urllib.parse.quote("app:" + XSS + ":pending", safe=":"), {"value": 7})
    admin("POST", "/v1/monitors", {"id": "dash-level", "target": "app:dash:level", "condition": "above", "value": 5,
                                    "severity": "err"})

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--window-size=1440,1000", "--hide-scrollbars", "--force-color-profile=srgb"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    try:
        driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
    except WebDriverException as error:
        print("chromium cannot start: " + str(error).splitlines()[0], flush=True)
        decoy.kill()
        sys.exit(3)
    try:
        driver.set_page_load_timeout(30)
        start = time.time()
        driver.get(BASE + "/")
        drawn = wait(driver, """
            if (typeof Chart === 'undefined') return 0;
            const drawn = Object.values(Chart.instances).filter(c => c.data.datasets.some(d => d.data.filter(p => p.y !== null).length > 1));
            return drawn.length >= 3 ? drawn.length : 0;""")
        check("the overview draws charts with data points", bool(drawn), f"charts with data: {drawn}")
        print(f"  first charts with data after {time.time() - start:.2f} s", flush=True)
        titles = driver.execute_script("return [...document.querySelectorAll('#overview .card h2 span:first-child')].map(e => e.textContent)")
        check("the overview has CPU, memory, load and network", all(t in titles for t in ["CPU", "Memory", "Load"]), titles)
        # Live: the CPU chart's newest point moves on.
        first = driver.execute_script("return Object.values(Chart.instances)[0].data.datasets[0].data.at(-1).x")
        moved = wait(driver, f"return Object.values(Chart.instances)[0].data.datasets[0].data.at(-1).x > {first}", 30)
        check("the overview charts are live", bool(moved))
        time.sleep(1)  # let the newest points draw before the picture, not a synchronisation
        shot(driver, "overview")

        # Statistics: a pushed statistic appears live; markup in its key and help stays text.
        driver.get(BASE + "/#statistics")
        driver.find_element(By.ID, "stat-match").send_keys("^app:")
        driver.find_element(By.CSS_SELECTOR, "#stat-form button").click()
        wait(driver, "return document.querySelectorAll('#stat-table tbody tr').length >= 2", 30)
        pushed_at = time.time()
        admin("PUT", "/v1/statistics/app:dash:fresh", {"value": 42, "unit": "bytes"})
        seen = wait(driver, """return [...document.querySelectorAll('#stat-table tbody td:first-child')]
                                .some(td => td.textContent === 'app:dash:fresh')""", 30)
        check("a pushed statistic appears in the statistics view", bool(seen))
        print(f"  pushed statistic shown {time.time() - pushed_at:.2f} s after the push", flush=True)
        text = wait(driver, f"""return [...document.querySelectorAll('#stat-table tbody td')]
                                .some(td => td.textContent.includes({json.dumps(XSS)}))""", 20)
        check("a key holding markup shows as its characters", bool(text))
        check("no element was made from it", driver.execute_script("return document.querySelectorAll('img').length") == 0)
        check("no alert", no_alert(driver))
        driver.find_element(By.XPATH, "//td[text()='app:dash:level']").click()
        wait(driver, "return document.querySelectorAll('#stat-chart canvas').length == 1", 20)
        shot(driver, "statistics")

        # Monitors: a pushed value raises the monitor; its event appears live in the events view.
        driver.get(BASE + "/#monitors")
        wait(driver, "return [...document.querySelectorAll('#mon-table td')].some(td => td.textContent === 'dash-level')", 30)
        admin("PUT", "/v1/statistics/app:dash:level", {"value": 10})
        raised = wait(driver, """return [...document.querySelectorAll('#mon-table tbody tr')]
                    .some(tr => tr.cells[0].textContent === 'dash-level' && tr.cells[1].textContent === 'raised')""", 60)
        check("the monitor shows raised", bool(raised))
        driver.find_element(By.XPATH, "//td[text()='dash-level']").click()
        wait(driver, "return document.querySelectorAll('#mon-chart canvas').length == 1", 20)
        # A backtest over the range: the pushed 10 would have raised it.
        driver.find_element(By.ID, "bt-target").send_keys("app:dash:level")
        driver.find_element(By.ID, "bt-value").send_keys("5")
        # A pushed gauge is archived at its pushes only: pushed again (the monitor stays raised)
        # and asked again until the archive holds a reading of 10.
        deadline, tested = time.time() + 60, False
        while not tested and time.time() < deadline:
            admin("PUT", "/v1/statistics/app:dash:level", {"value": 10})
            driver.find_element(By.CSS_SELECTOR, "#backtest-form button[type=submit]").click()
            tested = wait(driver, "return /readings, [1-9][0-9]* events?/.test(document.getElementById('bt-result').textContent)", 3)
        check("a backtest over the range finds the raise", bool(tested),
              driver.execute_script("return document.getElementById('bt-result').textContent"))
        time.sleep(1)
        shot(driver, "monitors")
        hidden = driver.execute_script("return [...document.querySelectorAll('#mon-table .writes')].every(e => e.offsetParent === null)")
        check("without a token no write button shows", bool(hidden))
        if TOKEN:
            driver.find_element(By.ID, "token").send_keys(TOKEN)
            driver.find_element(By.ID, "token-save").click()
            # Found and clicked in one script: the table is redrawn every 2 s.
            clicked = wait(driver, """const row = [...document.querySelectorAll('#mon-table tbody tr')]
                                          .find(tr => tr.cells[0].textContent === 'dash-level');
                                      const stop = row && row.querySelector('button:nth-child(2)');
                                      if (!stop || stop.offsetParent === null || stop.textContent !== 'stop') return false;
                                      stop.click();
                                      return true;""", 20)
            check("with the token the write buttons show", bool(clicked))
            stopped = wait(driver, """return [...document.querySelectorAll('#mon-table tbody tr')]
                    .some(tr => tr.cells[0].textContent === 'dash-level' && tr.cells[1].textContent === 'stopped')""", 30)
            check("stop with the token stops the monitor", bool(stopped))
            admin("POST", "/v1/monitors/dash-level/start")
            check("the token is kept for the tab only", driver.execute_script("return sessionStorage.getItem('resmon.token')") == TOKEN
                  and driver.execute_script("return document.cookie") == "")
            driver.find_element(By.ID, "token-save").click()
        driver.get(BASE + "/#events")
        wait(driver, "return document.getElementById('event-live').textContent === 'live'", 30)
        admin("PUT", "/v1/statistics/app:dash:level", {"value": 1})
        cancel = wait(driver, """return [...document.querySelectorAll('#event-table tbody tr')]
                    .some(tr => tr.cells[4].textContent === 'dash-level' && tr.cells[3].textContent === 'canceled')""", 60)
        check("the monitor's events appear live in the events view", bool(cancel))
        above = driver.execute_script("""return [...document.querySelectorAll('#event-table tbody tr')]
                    .some(tr => tr.cells[4].textContent === 'dash-level' && tr.cells[3].textContent === 'above')""")
        check("the raise is in the events view", bool(above))
        shot(driver, "events")

        # Processes: the decoy's command line is shown as text.
        driver.get(BASE + "/#processes")
        driver.find_element(By.ID, "proc-filter").send_keys("onerror")
        shown = wait(driver, f"""return [...document.querySelectorAll('#proc-table tbody tr')]
                                .some(tr => tr.cells[1].textContent === {json.dumps(XSS[:15])}
                                            && tr.cells[9].textContent.startsWith({json.dumps(XSS)}))""", 60)
        check("a process named with markup shows as its characters", bool(shown))
        check("no element was made from it", driver.execute_script("return document.querySelectorAll('img').length") == 0)
        check("no alert", no_alert(driver))
        # A row opens its charts: CPU, memory, I/O and threads.
        driver.execute_script("document.querySelector('#proc-table tbody tr').click()")
        charts = wait(driver, "const n = document.querySelectorAll('#proc-chart canvas').length; return n >= 3 ? n : 0", 20)
        check("a process row opens its CPU, memory and I/O charts", bool(charts), f"charts: {charts}")
        titles = driver.execute_script("return [...document.querySelectorAll('#proc-chart h2 > span:first-child')].map(e => e.textContent)")
        check("their titles name the process as text", all(XSS[:15] in t for t in titles) and len(titles) >= 3, json.dumps(titles)[:500])
        check("no element was made from the charts' titles", driver.execute_script("return document.querySelectorAll('img').length") == 0)
        driver.find_element(By.ID, "proc-filter").clear()
        driver.execute_script("document.getElementById('proc-filter').dispatchEvent(new Event('input'))")
        time.sleep(0.5)
        shot(driver, "processes")

        # The range switches every chart to the archives.
        driver.get(BASE + "/#overview")
        wait(driver, "return typeof Chart !== 'undefined' && Object.keys(Chart.instances).length >= 3", 30)
        driver.execute_script("const r = document.getElementById('range'); r.value = '7200'; r.dispatchEvent(new Event('change'))")
        spans = wait(driver, """const spans = Object.values(Chart.instances).map(c => c.options.scales.x.max - c.options.scales.x.min);
                                return spans.length && spans.every(s => s === 7200)""", 30)
        check("the range selector shows 2 hours", bool(spans))

        errors = [entry for entry in driver.get_log("browser") if entry["level"] in ("SEVERE", "ERROR")]
        check("the browser console has no errors", not errors, json.dumps(errors)[:2000])
    finally:
        driver.quit()
        decoy.kill()
        decoy.wait()
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
