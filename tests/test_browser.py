"""The real app in a real browser: ``streamlit run`` on a free port, driven by Playwright in Debian's Chromium.

Needs ``/usr/bin/chromium`` (``scripts/system-packages.sh``) and the ``playwright`` Python package;
no browser is ever downloaded. ``SAVE_SCREENSHOT=docs/screenshot.png pytest -m browser -k default_docs``
writes the README screenshot of the app answering a question about the default documents.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import make_pdf
from tests.servers import free_port, running

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ANSWER_TIMEOUT_MS = 600_000  # generous: the machine may be shared; SmolLM2 itself answers in seconds
FACTS = (
    "The Zorblax reactor was built in 1987 in Grenoble. It produces forty megawatts of electric power "
    "for the valley. The chief engineer of the Zorblax reactor is Marie Curien."
)

COURSE_FR = [  # a French course the project has never seen (issues #9 and #10): the answer sits on page 3
    "Cours : entraîner un grand modèle de langue. Chapitre 1. Les données. Un LLM apprend sur des corpus de "
    "textes nettoyés : pages web filtrées, livres, code source. On retire les doublons et les textes toxiques "
    "avant l'entraînement. Cours LLM - page 1",
    "Chapitre 2. L'architecture. Le modèle est un transformeur décodeur : une pile de couches d'attention et de "
    "réseaux denses. La taille du contexte fixe combien de jetons le modèle lit à la fois. Cours LLM - page 2",
    "Chapitre 3. L'optimisation. Pour entraîner un LLM, on minimise l'entropie croisée par descente de gradient. "
    "Les optimiseurs cités dans ce cours sont Adam ou AdamW, ce dernier découplant la pénalité des poids. "
    "Le taux d'apprentissage suit un échauffement puis une décroissance en cosinus. Cours LLM - page 3",
    "Chapitre 4. L'évaluation. On mesure la perplexité sur un jeu de validation, puis la qualité des réponses "
    "sur des questions tenues à l'écart de l'entraînement. Cours LLM - page 4",
]


def _requirements() -> None:
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} is missing: run scripts/system-packages.sh (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("the playwright Python package is missing: pip install -e '.[test]'")


@contextmanager
def streamlit_server(home: Path, model: str = "smollm2-135m") -> Iterator[str]:
    """``streamlit run app/streamlit_app.py`` on a free localhost port; always terminated."""
    port = free_port()
    env = {**os.environ, "RAG_HOME": str(home), "RAG_LLM_MODEL": model}
    command = [
        sys.executable, "-m", "streamlit", "run", str(ROOT / "app" / "streamlit_app.py"),
        "--server.address", "127.0.0.1", "--server.port", str(port), "--server.headless", "true",
        "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    with running(command, f"{url}/_stcore/health", home / "streamlit.log", env):
        yield url


@contextmanager
def browser_page(width: int = 1400, height: int = 1000) -> Iterator:
    """A Playwright page in the system Chromium (never a downloaded browser)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height}, locale="en-US")
            page.set_default_timeout(120_000)
            yield page
        finally:
            browser.close()


def ask(page, question: str) -> None:
    """Type a question in the chat box and wait until the answer is finished (its timings caption shows)."""
    before = page.get_by_text("retrieval ", exact=False).count()
    box = page.get_by_test_id("stChatInputTextArea")
    box.fill(question)
    box.press("Enter")
    page.get_by_test_id("stChatMessage").filter(has_text=question).first.wait_for()
    page.wait_for_function(
        "n => [...document.querySelectorAll('[data-testid=stCaptionContainer]')]"
        ".filter(e => e.innerText.startsWith('retrieval ')).length > n",
        arg=before,
        timeout=ANSWER_TIMEOUT_MS,
    )
    page.wait_for_load_state("networkidle")


def click_when_idle(page, locator) -> None:
    """Click once the app's script has finished running (Streamlit's running icon gone): a button clicked while a
    rerun is on its way can be replaced before its click counts."""
    page.wait_for_function(
        "() => !document.querySelector('[data-testid^=stStatusWidgetRunning]')", timeout=ANSWER_TIMEOUT_MS
    )
    locator.click()


def click_until_shown(page, button, shown, attempts: int = 3) -> None:
    """Click ``button`` once the app is idle and wait for ``shown``; click again if it did not come. Under load a
    click that lands as a run ends can be dropped by Streamlit, and a user would click again; a button that never
    opens what it should still fails after ``attempts`` clicks."""
    for attempt in range(1, attempts + 1):
        click_when_idle(page, button)
        try:
            shown.wait_for(timeout=30_000)
            return
        except Exception:
            if attempt == attempts:
                raise


def scroll_to_last_question(page) -> None:
    """Scroll the chat so that the last question sits at the top of the window (Streamlit scrolls inside a div)."""
    page.wait_for_timeout(1000)  # let the chat's stick-to-bottom scrolling settle first
    page.get_by_test_id("stChatMessage").nth(-2).evaluate("e => e.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(500)


def test_upload_ask_and_see_the_citation(tmp_path: Path) -> None:
    _requirements()
    pdf = make_pdf(tmp_path / "upload" / "zorblax.pdf", [FACTS])
    home = tmp_path / "home"
    home.mkdir()
    with streamlit_server(home) as url, browser_page() as page:
        page.goto(url)
        page.get_by_test_id("stChatInputTextArea").wait_for()
        page.get_by_test_id("stSidebar").locator("input[type=file]").set_input_files(str(pdf))
        sidebar = page.get_by_test_id("stSidebar")
        sidebar.get_by_test_id("stText").filter(has_text="zorblax.pdf").wait_for(timeout=ANSWER_TIMEOUT_MS)
        assert (home / "docs" / "zorblax.pdf").is_file()

        ask(page, "When was the Zorblax reactor built?")
        answer = page.get_by_test_id("stChatMessage").last
        citation = answer.get_by_test_id("stExpander").filter(has_text="zorblax.pdf — page 1").first
        citation.wait_for()
        citation.get_by_text("zorblax.pdf — page 1").click()  # open it: passage text and highlighted page
        citation.get_by_test_id("stImage").first.wait_for()
        assert "1987" in citation.get_by_test_id("stText").first.inner_text()
        assert "tokens/s" in answer.inner_text()
        dialog = page.get_by_role("dialog")
        whole_page = citation.get_by_role("button", name="Open the whole page")
        click_until_shown(page, whole_page, dialog.get_by_test_id("stImage"))
        dialog.get_by_role("button", name="Close").click()
        dialog.wait_for(state="hidden")
        scroll_to_last_question(page)
        page.screenshot(path=str(tmp_path / "answer.png"))

        # A reload keeps the conversation: its id is in the URL and it is saved under RAG_HOME.
        assert "c=" in page.url, page.url
        page.reload()
        question = "When was the Zorblax reactor built?"
        page.get_by_test_id("stChatMessage").filter(has_text=question).first.wait_for()
        page.get_by_test_id("stChatMessage").last.get_by_text("tokens/s", exact=False).wait_for()
        assert page.get_by_test_id("stChatMessage").count() == 2
        sidebar = page.get_by_test_id("stSidebar")
        sidebar.get_by_role("button", name=question).wait_for()
        assert (home / "conversations.sqlite3").is_file()
    assert (tmp_path / "answer.png").stat().st_size > 10_000


@pytest.mark.slow
def test_the_two_questions_of_the_issues_get_cited_answers_from_the_default_model(tmp_path: Path) -> None:
    """Issues #9 and #10 as a new user met them: the default documents, a French course uploaded in the app,
    and the default Qwen 1.5B. The optimisers are on page 3 of the course; "Qu'est-ce que le RAG ?" is
    answered from the default documents, not from a page footer."""
    _requirements()
    home = tmp_path / "home"
    shutil.copytree(ROOT / "data" / "docs", home / "docs")
    course = make_pdf(tmp_path / "upload" / "cours_llm_entrainement.pdf", COURSE_FR)
    with streamlit_server(home, model="qwen2.5-coder-1.5b") as url, browser_page() as page:
        page.goto(url)
        page.get_by_test_id("stChatInputTextArea").wait_for(timeout=ANSWER_TIMEOUT_MS)
        sidebar = page.get_by_test_id("stSidebar")
        sidebar.locator("input[type=file]").set_input_files(str(course))
        # The documents list shows the bare name; the indexing box's lines read "name: added".
        listed = sidebar.get_by_test_id("stText").filter(has_text=re.compile(rf"^{re.escape(course.name)}$"))
        listed.first.wait_for(timeout=ANSWER_TIMEOUT_MS)

        ask(page, "Quels optimiseurs sont cités pour entraîner un LLM ?")
        answer = page.get_by_test_id("stChatMessage").last
        assert "Adam" in answer.get_by_test_id("stMarkdown").first.inner_text()
        answer.get_by_test_id("stExpander").filter(has_text=f"{course.name} — page 3").first.wait_for()

        ask(page, "Qu'est-ce que le RAG ?")
        answer = page.get_by_test_id("stChatMessage").last
        text = answer.get_by_test_id("stMarkdown").first.inner_text()
        assert "RAG" in text and "ne le disent pas" not in text, text
        cited = answer.get_by_test_id("stExpander").filter(has_text="cours_rag_fr.pdf")
        cited = cited.or_(answer.get_by_test_id("stExpander").filter(has_text="transformers_and_rag_course.pdf"))
        cited.first.wait_for()


def test_screenshot_of_conversations(tmp_path: Path) -> None:
    """The README's second screenshot: saved conversations in the sidebar, a Word document's answer with its
    section and the passage highlighted in a text preview (only when SAVE_CONVERSATIONS_SCREENSHOT names a file)."""
    target = os.environ.get("SAVE_CONVERSATIONS_SCREENSHOT")
    if not target:
        pytest.skip("set SAVE_CONVERSATIONS_SCREENSHOT=docs/screenshot-conversations.png to write it")
    _requirements()
    from rag.conversations import ConversationStore
    from tests.documents import make_docx
    from tests.test_conversations import an_answer

    home = tmp_path / "home"
    store = ConversationStore(home / "conversations.sqlite3")
    for question in ("When was the Zorblax reactor built?", "Quelle est la puissance du réacteur ?"):
        conversation = store.create(question)
        store.add_question(conversation.id, question)
        store.add_answer(conversation.id, an_answer(question), question)
    sections = [
        ("Installation", ["The Zorblax pump is installed on a concrete base by two technicians. It weighs 80 kg."]),
        ("Maintenance", ["The filter of the Zorblax pump must be cleaned every 200 hours with warm water. "
                         "The gasket is replaced once a year by the supplier."]),
    ]  # fmt: skip
    make_docx(home / "docs" / "Pump manual.docx", sections)
    with streamlit_server(home) as url, browser_page(1400, 1100) as page:
        page.goto(url)
        page.get_by_test_id("stSidebar").get_by_test_id("stText").first.wait_for(timeout=ANSWER_TIMEOUT_MS)
        page.get_by_test_id("stSidebar").get_by_role("button", name="New conversation").click()
        page.wait_for_load_state("networkidle")
        ask(page, "How often must the filter of the Zorblax pump be cleaned?")
        answer = page.get_by_test_id("stChatMessage").last
        expanders = answer.get_by_test_id("stExpander").filter(has_text="Pump manual.docx")
        expanders.first.locator("summary").click()
        expanders.first.get_by_test_id("stMarkdown").last.wait_for()
        scroll_to_last_question(page)
        path = ROOT / target if not Path(target).is_absolute() else Path(target)
        path.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(path))
    assert path.stat().st_size > 10_000


def test_screenshot_of_default_docs(tmp_path: Path) -> None:
    """The README screenshot: the app answering about data/docs (only when SAVE_SCREENSHOT names a file)."""
    target = os.environ.get("SAVE_SCREENSHOT")
    if not target:
        pytest.skip("set SAVE_SCREENSHOT=docs/screenshot.png to write the README screenshot")
    _requirements()
    docs = ROOT / "data" / "docs"
    home = tmp_path / "home"
    if any(docs.glob("*.pdf")):
        shutil.copytree(docs, home / "docs")
    else:
        make_pdf(home / "docs" / "zorblax.pdf", [FACTS])
    question = os.environ.get("SCREENSHOT_QUESTION", "What is retrieval-augmented generation?")
    model = os.environ.get("SCREENSHOT_MODEL", "smollm2-135m")
    with streamlit_server(home, model) as url, browser_page(1400, 1600) as page:
        page.goto(url)
        page.get_by_test_id("stSidebar").get_by_test_id("stText").first.wait_for(timeout=ANSWER_TIMEOUT_MS)
        ask(page, question)
        answer = page.get_by_test_id("stChatMessage").last
        expanders = answer.get_by_test_id("stExpander")
        if expanders.count():
            expanders.first.locator("summary").click()
            expanders.first.get_by_test_id("stImage").first.wait_for()
        scroll_to_last_question(page)
        path = ROOT / target if not Path(target).is_absolute() else Path(target)
        path.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(path))
    assert path.stat().st_size > 10_000
