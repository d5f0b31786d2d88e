"""JupyterLab in a real browser (Debian's /usr/bin/chromium driven by Python playwright; no browser is downloaded):
the LLMOps sidebar shows what magics made in a kernel, the schedule dialog creates a job that runs, a prompt diff
opens in the main area, every widget panel renders in a notebook, the Monitor shows groundedness and the hallucination
rate with its chart, and the feedback panel's label mode saves yes/no labels. Screenshots go to tests/artifacts/screenshots/."""
import json, os, shutil, socket, subprocess, sys, time, urllib.request, uuid
from pathlib import Path
import pytest
from kernel import Kernel

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "tests" / "artifacts" / "screenshots"
TOKEN = "llmops-browser-test"
BIN = Path(sys.executable).parent
from playwright import sync_api as playwright  # the dev extra
from conftest import apt_install
apt_install("chromium", Path(CHROMIUM).exists)  # make install does; a missing browser is installed, never a skip
pytestmark = [pytest.mark.slow, pytest.mark.solo]


@pytest.fixture
def jp_asyncio_loop():
    "Overrides pytest-jupyter's autouse loop fixture (loaded by test_server.py), which would close playwright's running loop."
    yield None


@pytest.fixture
def jp_server_cleanup():
    "Overrides pytest-jupyter's autouse server cleanup: no pytest-jupyter server runs here."
    yield


def nb(*sources, params: bool = False) -> str:
    "A notebook of code cells; with `params` the first is papermill's parameters cell."
    cells = [{"cell_type": "code", "execution_count": None, "id": f"c{i}", "metadata": {"tags": ["parameters"]} if params and i == 0 else {},
              "outputs": [], "source": s} for i, s in enumerate(sources)]
    return json.dumps({"cells": cells, "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
                       "nbformat": 4, "nbformat_minor": 5})


RAG_CALLS = """import time, jupyter_llmops.llm  # the gateway sets the recorder's background scorer
from jupyter_llmops.config import load_settings
from jupyter_llmops.recorder import RECORDER, flush
s, now = load_settings(), time.time_ns()
ctx = [{"source": "docs/guide.md", "text": "MLOps puts models in production and watches them."}]
for i, a in enumerate(["MLOps puts models in production and watches them.", "The index is kept up to date by a Lambda-based model."]):
    RECORDER.submit(s, dict(model="local", messages=[{"role": "user", "content": "What is MLOps?"}], text=a, start_ns=now + i,
                            end_ns=now + i + 10**8, attrs={"llmops.latency_s": 0.1, "llmops.context": ctx}))
assert flush(120, scores=True)"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0)); return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    "A project made by magics in a kernel, and JupyterLab serving it."
    from jupyter_llmops.commands.kit import PANELS
    proj = tmp_path_factory.mktemp("labproj")
    home = proj / ".llmops"
    (proj / "settings.ini").write_text("[llmops]\nexperiment = ui\n")
    (proj / "docs").mkdir(); (proj / "docs" / "guide.md").write_text("# Guide\n\nMLOps puts models in production and watches them.\n")
    (proj / "job.ipynb").write_text(nb("x = 1", "print('job ran', x * 2)", params=True))
    (proj / "items.jsonl").write_text("".join(json.dumps({"question": "What does MLOps do?", "answer": a, "context": "MLOps puts models in production and watches them."}) + "\n"
                                              for a in ("MLOps puts models in production.", "MLOps was invented in 1850 in Rome.")))
    (proj / "panels.ipynb").write_text(nb("%load_ext jupyter_llmops", *[f"%llmops panel {n}" for n in PANELS], "%llmops panel",
                                          "%llmops feedback lab --label grounded --prompts items.jsonl"))
    env = {**os.environ, "LLMOPS_HOME": str(home), "PATH": f"{BIN}:{os.environ.get('PATH', '')}"}
    old = os.environ.get("LLMOPS_HOME"); os.environ["LLMOPS_HOME"] = str(home)
    k = Kernel(cwd=proj)
    try:
        for code in ["%load_ext jupyter_llmops",
                     "%%llmops track --run-name ui-run\nimport mlflow\nmlflow.log_metric('acc', 0.91)",
                     "from jupyter_llmops.prompts import register\nfor i in range(16): register(f'older-{i:02d}', f'Older {i}: {{{{q}}}}')",
                     "%%llmops prompt greet -m first\nHello {{name}}",
                     "%%llmops prompt greet -m second --alias prod\nHello {{name}}, welcome!",
                     "%llmops rag build kb docs",
                     RAG_CALLS]:
            r = k.run(code)
            assert r.status == "ok", (code, r.ename, r.evalue)
    finally:
        k.close()
        if old is None: os.environ.pop("LLMOPS_HOME", None)
        else: os.environ["LLMOPS_HOME"] = old
    port = free_port()
    user_settings = proj / ".lab-settings"  # no "get notified about Jupyter news?" toast over the screenshots
    (user_settings / "@jupyterlab" / "apputils-extension").mkdir(parents=True)
    (user_settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    log = open(proj / "lab.log", "w")
    proc = subprocess.Popen([str(BIN / "jupyter"), "lab", "--allow-root", f"--ServerApp.token={TOKEN}", "--LabApp.news_url=None",
                             "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1", f"--ServerApp.root_dir={proj}",
                             "--ServerApp.jpserver_extensions={'jupyter_llmops': True}",
                             "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
                             f"--LabApp.user_settings_dir={user_settings}", f"--LabApp.workspaces_dir={proj / '.lab-workspaces'}"],
                            cwd=proj, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    for _ in range(240):
        try:
            with urllib.request.urlopen(f"{base}/llmops/api/status?token={TOKEN}", timeout=5) as r:
                if r.status == 200: break
        except OSError: time.sleep(0.5)
    else:
        proc.kill(); pytest.fail("JupyterLab did not start:\n" + (proj / "lab.log").read_text()[-3000:])
    yield base, proj, list(PANELS)
    subprocess.run([str(BIN / "llmops"), "scheduler", "stop"], cwd=proj, env=env, capture_output=True, timeout=60)
    proc.terminate()
    try: proc.wait(20)
    except subprocess.TimeoutExpired: proc.kill()
    log.close()


@pytest.fixture(scope="module")
def page(lab):
    "One browser, one navigation to a fresh workspace with panels.ipynb open; the kernel idle."
    base, proj, _ = lab
    SHOTS.mkdir(parents=True, exist_ok=True)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        ctx = browser.new_context(viewport={"width": 1500, "height": 950})
        pg = ctx.new_page()
        pg.set_default_timeout(120_000)
        errors = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.goto(f"{base}/lab/workspaces/t{uuid.uuid4().hex[:8]}/tree/panels.ipynb?reset&token={TOKEN}")
        pg.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=180_000)
        pg.errors = errors
        yield pg
        ctx.close(); browser.close()


def open_sidebar(page):
    if not page.locator("#jp-llmops-sidebar").is_visible():
        page.click(".jp-SideBar.jp-mod-left [data-id='jp-llmops-sidebar']")
    page.wait_for_selector("#jp-llmops-sidebar[data-refreshed]")


def test_sidebar_shows_run_prompt_index(page):
    open_sidebar(page)
    page.wait_for_selector(".jp-llmops-runs .jp-llmops-row[data-name='ui-run']")
    page.wait_for_selector(".jp-llmops-prompts .jp-llmops-row[data-name='greet']")
    page.wait_for_selector(".jp-llmops-indexes .jp-llmops-row[data-name='kb']")
    assert "acc 0.91" in page.inner_text(".jp-llmops-runs")
    assert "prod=2" in page.inner_text(".jp-llmops-prompts")
    # 17 prompts: the 15 last changed (greet, the newest, first; one minute apart or by name), and where the others are
    assert page.locator(".jp-llmops-prompts .jp-llmops-row").count() == 15
    assert page.locator(".jp-llmops-prompts .jp-llmops-row").first.get_attribute("data-name") == "greet"
    assert "the 15 last changed of 17 prompts: %llmops prompt list lists them all" in page.inner_text(".jp-llmops-section-prompts")
    mon = page.locator(".jp-llmops-section-monitor")
    assert "2 LLM call(s)" in mon.inner_text() and "grounded" in mon.inner_text() and "50%" in mon.inner_text()
    assert mon.locator(".jp-llmops-hallucination svg polyline").count() == 1
    page.locator("#jp-llmops-sidebar").screenshot(path=str(SHOTS / "sidebar.png"))


def test_prompt_diff_opens_in_main_area(page):
    open_sidebar(page)
    page.click(".jp-llmops-prompts .jp-llmops-row[data-name='greet'] .jp-llmops-diff")
    page.wait_for_selector(".jp-llmops-diffview .jp-llmops-diff-add")
    assert page.inner_text(".jp-llmops-diffview .jp-llmops-diff-del") == "-Hello {{name}}"
    assert page.inner_text(".jp-llmops-diffview .jp-llmops-diff-add") == "+Hello {{name}}, welcome!"
    page.screenshot(path=str(SHOTS / "prompt-diff.png"))
    page.click(".jp-llmops-prompts .jp-llmops-row[data-name='greet'] .jp-llmops-diff")  # again: the same tab, not a second
    page.wait_for_timeout(500)
    assert page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab:has-text('Prompt diff: greet')").count() == 1
    page.click(".lm-DockPanel-tabBar .lm-mod-current .lm-TabBar-tabCloseIcon")


def test_palette_has_the_commands(page):
    page.keyboard.press("Control+Shift+C")
    page.keyboard.type("LLMOps")
    items = page.locator(".lm-CommandPalette-item").all_inner_texts()
    page.keyboard.press("Escape")
    for label in ["Show Sidebar", "Refresh Sidebar", "Diff Prompt Versions", "Start Scheduler"]:
        assert any(label in i for i in items), items
    assert page.locator(".jp-NotebookPanel-toolbar .jp-llmops-schedule-button").count() >= 1


def test_schedule_dialog_creates_a_job_that_runs(page, lab):
    base, proj, _ = lab
    page.click(".jp-SideBar.jp-mod-left [data-id='filebrowser']")
    page.click(".jp-DirListing-item[title^='Name: job.ipynb']", button="right")
    page.click(".lm-Menu-item:has-text('Schedule notebook…')")
    page.wait_for_selector(".jp-llmops-form")
    page.fill(".jp-llmops-form input[name='name']", "ui-job")
    page.fill(".jp-llmops-form input[name='cron']", "0 3 * * *")
    page.fill(".jp-llmops-form textarea[name='params']", "x=21")
    page.fill(".jp-llmops-form input[name='retries']", "1")
    page.locator(".jp-Dialog").screenshot(path=str(SHOTS / "schedule-dialog.png"))
    page.click(".jp-Dialog-button.jp-mod-accept")
    open_sidebar(page)
    row = page.locator(".jp-llmops-jobs .jp-llmops-row[data-name='ui-job']")
    row.wait_for()
    assert "0 3 * * *" in row.inner_text()
    page.click(".jp-llmops-start")  # the scheduler daemon, started from the sidebar
    page.wait_for_selector(".jp-llmops-scheduler:has-text('scheduler running')")
    row.locator(".jp-llmops-run").click()  # run now
    for _ in range(120):
        if row.locator(".jp-llmops-status-succeeded, .jp-llmops-status-failed").count(): break
        time.sleep(1); page.click(".jp-llmops-refresh")
    assert row.locator(".jp-llmops-status-succeeded").count() == 1, row.inner_text()
    page.locator("#jp-llmops-sidebar").screenshot(path=str(SHOTS / "sidebar-job.png"))
    hist = json.load(urllib.request.urlopen(f"{base}/llmops/api/schedules/ui-job/history?token={TOKEN}"))
    assert "job ran 42" in Path(hist[0]["output_path"]).read_text()


def test_schedule_dialog_keeps_what_was_typed_when_refused(page, lab):
    "A request refused (here by the form, then by the server) opens the form again with the error in it and every field as typed."
    base, _, _ = lab
    page.click(".jp-SideBar.jp-mod-left [data-id='filebrowser']")
    page.click(".jp-DirListing-item[title^='Name: job.ipynb']", button="right")
    page.click(".lm-Menu-item:has-text('Schedule notebook…')")
    form = page.locator(".jp-llmops-form")
    form.wait_for()
    page.fill(".jp-llmops-form input[name='name']", "ui-refused")
    page.fill(".jp-llmops-form textarea[name='params']", '{"x": 1}')  # not KEY=VALUE: the old dialog closed and said nothing
    page.click(".jp-Dialog-button.jp-mod-accept")
    page.wait_for_selector(".jp-llmops-form .jp-llmops-form-error:has-text('bad parameter line')")
    assert page.input_value(".jp-llmops-form input[name='name']") == "ui-refused"
    assert page.input_value(".jp-llmops-form textarea[name='params']") == '{"x": 1}'
    page.fill(".jp-llmops-form textarea[name='params']", "x=2")
    page.fill(".jp-llmops-form input[name='cron']", "61 * * * *")  # refused by the server
    page.click(".jp-Dialog-button.jp-mod-accept")
    page.wait_for_selector(".jp-llmops-form .jp-llmops-form-error:has-text('cron')")
    page.locator(".jp-Dialog").screenshot(path=str(SHOTS / "schedule-dialog-refused.png"))
    assert (page.input_value(".jp-llmops-form input[name='cron']"), page.input_value(".jp-llmops-form textarea[name='params']")) == ("61 * * * *", "x=2")
    page.click(".jp-Dialog-button.jp-mod-reject")
    form.wait_for(state="detached")
    names = [j["name"] for j in json.load(urllib.request.urlopen(f"{base}/llmops/api/schedules?token={TOKEN}"))]
    assert "ui-refused" not in names, names


def test_sidebar_keeps_focus_and_cuts_long_names(page, lab):
    "A 3,000-character run name is cut to one cell (whole on hover), and the keyboard focus outlives the timed refresh."
    _, proj, _ = lab
    long_name = "r" * 3000
    subprocess.run([sys.executable, "-c", "import mlflow, sys; mlflow.set_tracking_uri(sys.argv[1]); mlflow.set_experiment('ui');"
                    "mlflow.start_run(run_name=sys.argv[2]); mlflow.end_run()", f"sqlite:///{proj / '.llmops' / 'mlflow.db'}", long_name],
                   check=True, capture_output=True, timeout=300)
    open_sidebar(page)
    page.click(".jp-llmops-refresh")
    cell = page.locator(f".jp-llmops-runs td[title='{long_name}']")
    cell.wait_for()
    assert len(cell.inner_text()) <= 60 and cell.inner_text().endswith("…")
    assert page.locator(".jp-llmops-section-runs").bounding_box()["height"] < 600
    diff = ".jp-llmops-prompts .jp-llmops-row[data-name='greet'] .jp-llmops-diff"
    page.focus(diff)
    stamp = page.get_attribute("#jp-llmops-sidebar", "data-refreshed")
    page.wait_for_function(f"() => document.querySelector('#jp-llmops-sidebar').dataset.refreshed !== '{stamp}'", timeout=60_000)
    assert page.evaluate(f"() => document.activeElement === document.querySelector(\"{diff}\")")
    page.locator("#jp-llmops-sidebar").screenshot(path=str(SHOTS / "sidebar-long-name.png"))


def test_every_panel_renders_in_a_notebook(page, lab):
    _, _, names = lab
    page.click("#jp-main-dock-panel .lm-TabBar-tab:has-text('panels.ipynb')")
    page.click(".lm-MenuBar-item:has-text('Run')")
    page.click(".lm-Menu-item:has-text('Run All Cells')")
    n = len(names) + 3
    page.wait_for_function(f"""() => [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputPrompt')]
        .filter(e => /\\[\\d+\\]/.test(e.textContent)).length === {n}""", timeout=240_000)
    cells = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell")
    assert cells.count() == n
    for i, name in enumerate([*names, "all"], start=1):
        cell = cells.nth(i)
        cell.locator(".jupyter-widgets").first.wait_for(timeout=60_000)
        text = cell.locator(".jp-OutputArea").inner_text()
        assert "Error" not in text and "Traceback" not in text, (name, text[:500])
        cell.scroll_into_view_if_needed()
        cell.screenshot(path=str(SHOTS / f"panel-{name}.png"))
    tabs = cells.nth(n - 2).locator(".jp-OutputArea .lm-TabBar-tab")
    assert tabs.count() == len(names), tabs.all_inner_texts()
    assert not [e for e in page.errors if "llmops" in e.lower()], page.errors


def test_label_mode_saves_yes_and_no(page, lab):
    _, proj, names = lab
    panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-llmops-label-panel")
    if not panel.count():  # run alone: run the notebook first
        test_every_panel_renders_in_a_notebook(page, lab)
    panel.wait_for(timeout=60_000)
    assert "Is this answer supported by its context?" in panel.inner_text() and "MLOps puts models in production." in panel.inner_text()
    panel.scroll_into_view_if_needed()
    panel.screenshot(path=str(SHOTS / "panel-labels.png"))
    panel.locator("button:has-text('Yes')").click()
    page.wait_for_function("() => document.querySelector('.jp-llmops-label-panel').innerText.includes('1 of 2 labelled')")
    assert "invented in 1850" in panel.inner_text()
    panel.locator("button:has-text('No')").click()
    page.wait_for_function("() => document.querySelector('.jp-llmops-label-panel').innerText.includes('all 2 labelled')")
    labels = [json.loads(l) for l in (proj / ".llmops" / "feedback" / "lab" / "labels.jsonl").read_text().splitlines()]
    assert [(r["completion"], r["label"]) for r in labels] == [("MLOps puts models in production.", True), ("MLOps was invented in 1850 in Rome.", False)]


def test_an_action_shows_its_result_while_another_section_is_slow(page, lab):
    "Found by a probe: with MLflow slow to answer, Pause reused the refresh in flight, whose job list predated it: the row offered Pause for a minute, and a removed job stayed listed. Also: a U+202E in a name reversed the rest of its line."
    _, proj, _ = lab
    env = {**os.environ, "LLMOPS_HOME": str(proj / ".llmops")}
    subprocess.run([str(BIN / "llmops"), "schedule", "add", "slowpause", "job.ipynb", "--cron", "0 3 * * *"], cwd=proj, env=env,
                   check=True, capture_output=True, timeout=300)
    subprocess.run([sys.executable, "-c", "import mlflow, sys; mlflow.set_tracking_uri(sys.argv[1]); mlflow.set_experiment('ui');"
                    "mlflow.start_run(run_name=sys.argv[2]); mlflow.end_run()", f"sqlite:///{proj / '.llmops' / 'mlflow.db'}",
                    "\u202eevil\u202c.exe"], check=True, capture_output=True, timeout=300)
    open_sidebar(page)
    page.click(".jp-llmops-refresh")
    row = ".jp-llmops-jobs .jp-llmops-row[data-name='slowpause']"
    page.wait_for_selector(f"{row} button[title='Pause']")
    page.evaluate("""() => { const f = window.fetch; window.llmopsHeld = [];  // the runs section waits until released
        window.fetch = (req, ...a) => String(req.url ?? req).includes('/llmops/api/runs') ? new Promise(r => window.llmopsHeld.push(() => r(f(req, ...a)))) : f(req, ...a);
        window.llmopsRelease = () => { window.fetch = f; window.llmopsHeld.forEach(g => g()); }; }""")
    try:
        page.click(".jp-llmops-refresh")  # a refresh held in flight by the runs section
        page.click(f"{row} button[title='Pause']")
        page.wait_for_selector(f"{row} button[title='Resume']", timeout=60_000)  # before: after the runs answered
    finally:
        stamp = page.get_attribute("#jp-llmops-sidebar", "data-refreshed")
        page.evaluate("() => window.llmopsRelease()")
        page.wait_for_function(f"() => document.querySelector('#jp-llmops-sidebar').dataset.refreshed !== '{stamp}'", timeout=120_000)
    page.click(".jp-llmops-refresh")
    page.wait_for_selector(".jp-llmops-runs .jp-llmops-row[data-name='\u202eevil\u202c.exe']")
    assert "⟨U+202E⟩evil⟨U+202C⟩.exe" in page.inner_text(".jp-llmops-runs")  # shown, not obeyed
    subprocess.run([str(BIN / "llmops"), "schedule", "remove", "slowpause"], cwd=proj, env=env, check=True, capture_output=True, timeout=300)
