"""`make docs` serves a dbt docs site whose lineage graph shows the warehouse of all four TLC services.

Rendered for real: `dbt docs generate`, served over HTTP on localhost, opened in headless Chromium
(Debian's, installed by tools/setup_browser.sh), the lineage graph opened from the page of the
cross-service report (rpt_monthly_zone_trips_by_service, which reads both facts), and the graph's
nodes read back from the page: every ancestor of the report, from the four datasets' sources through
fact_trips and fact_fhv_trips. Saves a screenshot for the README.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import subprocess
import threading
from pathlib import Path

import psycopg2
import pytest

from orchestration.local import dbt_runner, embedded_postgres

REPO_ROOT = Path(__file__).resolve().parents[2]
DATABASE = "tlc_pytest_docs"
REPORT = "model.tlc_warehouse.rpt_monthly_zone_trips_by_service"
SERVICES = ("yellow", "green", "fhv", "fhvhv")
SCREENSHOT = REPO_ROOT / "docs" / "lineage.png"
# Flags a headless Chromium needs on a machine with no network but loopback (see tools/setup_browser.sh).
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _chromium() -> str:
    for candidate in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if candidate and shutil.which(candidate):
            return shutil.which(candidate)
    message = "no Chromium found (tools/setup_browser.sh installs Debian's as root; or set CHROMIUM=path)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message}: under CI this test must run")
    pytest.skip(message)


@pytest.fixture(scope="module")
def docs_site(tmp_path_factory):
    """dbt docs generated into a temp target folder and served on a free localhost port."""
    info = embedded_postgres.start(database="postgres")
    admin = psycopg2.connect(info.dsn("postgres"))
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'drop database if exists "{DATABASE}" with (force)')
    admin.close()
    info = embedded_postgres.start(database=DATABASE)
    target = tmp_path_factory.mktemp("docs_target")
    env = {**os.environ, **info.env(), "DBT_TARGET_PATH": str(target)}
    # The docs site needs only the manifest for lineage; the catalog part tolerates an empty database.
    result = subprocess.run(
        [str(REPO_ROOT / ".venv" / "bin" / "dbt"), "docs", *dbt_runner.dbt_args("generate")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert (target / "index.html").exists()
    handler = functools.partial(_QuietHandler, directory=str(target))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield {"url": f"http://127.0.0.1:{server.server_address[1]}", "target": target}
    server.shutdown()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - signature of the base class
        pass


def _ancestors(parent_map: dict[str, list[str]], uid: str) -> set[str]:
    found, stack = set(), [uid]
    while stack:
        for parent in parent_map.get(stack.pop(), []):
            if parent not in found:
                found.add(parent)
                stack.append(parent)
    return found


def test_lineage_graph_shows_all_four_services(docs_site, tmp_path):
    chromium = _chromium()
    sync_api = pytest.importorskip("playwright.sync_api")
    manifest = json.loads((docs_site["target"] / "manifest.json").read_text())
    ancestors = {uid.split(".")[-1] for uid in _ancestors(manifest["parent_map"], REPORT)}
    assert {"fact_trips", "fact_fhv_trips"} <= ancestors
    assert {f"stg_tlc__{service}_trips" for service in SERVICES} <= ancestors
    assert {f"{service}_trips" for service in SERVICES} <= ancestors, "the four datasets' sources"

    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.goto(f"{docs_site['url']}/#!/model/{REPORT}", wait_until="networkidle")
        page.wait_for_selector("text=rpt_monthly_zone_trips_by_service", timeout=30_000)
        # The round button at the bottom right opens the lineage graph of the model on screen.
        page.locator("[ng-click='onLauncherClick()']").click()
        page.wait_for_function(
            "() => { const g = angular.element(document.body).injector().get('graph');"
            " return g.graph.elements && g.graph.elements.length > 0; }",
            timeout=30_000,
        )
        page.locator("[ng-click='showExpanded()']").click()  # fullscreen: the picture the README shows
        page.mouse.move(800, 950)  # away from the button, so its tooltip is not in the picture
        page.wait_for_timeout(2_000)  # let the layout settle before the screenshot
        labels = page.evaluate(
            "() => angular.element(document.body).injector().get('graph').graph.elements"
            ".filter(e => e.group === 'nodes' || !e.data.source).map(e => e.data.label || e.data.name || e.data.id)"
        )
        shot = tmp_path / "lineage.png"
        page.screenshot(path=str(shot))
        browser.close()

    shown = {str(label).split(".")[-1] for label in labels}
    assert "rpt_monthly_zone_trips_by_service" in shown
    missing = ancestors - shown
    assert not missing, f"lineage graph lacks ancestors of the report: {sorted(missing)} (shown: {sorted(shown)})"
    assert shot.stat().st_size > 10_000, "the screenshot is a real rendering, not a blank page"
    local_copy = REPO_ROOT / ".local" / "docs" / "lineage.png"
    local_copy.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(shot, local_copy)
    # The README's picture: refreshed on request, so a test run does not dirty the work tree.
    if not SCREENSHOT.exists() or os.environ.get("UPDATE_SCREENSHOTS") == "1":
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(shot, SCREENSHOT)
