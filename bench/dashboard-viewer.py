"""Opens resmond's dashboard in headless Chromium for `make bench` (Sources/resmon-bench/DashboardCost.swift).

    dashboard-viewer.py URL REPORT_FILE

Writes "drawn SECONDS" to REPORT_FILE once the overview shows at least three charts with data,
then keeps the page open until SIGTERM, when it closes the browser and exits.
"""
import signal
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

url, report = sys.argv[1], sys.argv[2]
stopping = False


def stop(*_):
    global stopping
    stopping = True


signal.signal(signal.SIGTERM, stop)
options = webdriver.ChromeOptions()
options.binary_location = "/usr/bin/chromium"
for flag in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1440,1000"]:
    options.add_argument(flag)
driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
try:
    start = time.time()
    driver.get(url)
    drawn = False
    while not drawn and time.time() - start < 60 and not stopping:
        drawn = driver.execute_script(
            "return typeof Chart !== 'undefined' && Object.values(Chart.instances).filter("
            "c => c.data.datasets.some(d => d.data.filter(p => p.y !== null).length > 1)).length >= 3")
        if not drawn:
            time.sleep(0.1)
    with open(report, "w") as out:
        out.write(f"drawn {time.time() - start:.3f}\n" if drawn else "failed: no charts with data within 60 s\n")
    while not stopping:
        time.sleep(0.2)
finally:
    driver.quit()
