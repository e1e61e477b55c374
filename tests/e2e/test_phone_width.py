"""Pages work at phone width (issue 15, item 17): at 390 px the instruction editor uses the width, the top
navigation collapses behind "Menu", and wide tables scroll inside their cards, not the page."""

from __future__ import annotations

import pytest

from qc import review
from tests.e2e.conftest import login
from tests.factories import AdminFactory, SampleFactory, TaskFactory
from tests.qc.conftest import make_split

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def phone(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport=PHONE)
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


def page_fits(page) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{page.url} is {overflow} px wider than the screen"


def test_instruction_editor_and_review_work_at_390_px(phone):
    s = make_split(10)
    login(phone, s.writer.username)
    phone.goto(f"/tasks/{s.task.slug}/")
    editor = phone.locator("#new-instruction")
    assert editor.bounding_box()["width"] > 300  # was 40 px: a later rule overrode the narrow-screen one
    stats = phone.locator("#pool-stats").bounding_box()
    assert stats["y"] > editor.bounding_box()["y"]  # the statistics go below the editor, not beside it
    page_fits(phone)

    # the navigation is collapsed behind "Menu" and opens on a tap
    nav = phone.locator("#main-nav")
    assert not nav.is_visible() and phone.locator(".nav-toggle").is_visible()
    phone.click(".nav-toggle")
    assert nav.is_visible() and phone.locator("#main-nav a", has_text="Tasks").is_visible()
    page_fits(phone)

    phone.context.clear_cookies()
    rev = review.start_review(s.split, s.reviewer)
    login(phone, s.reviewer.username)
    phone.goto(f"/qc/reviews/{rev.pk}/")
    phone.wait_for_selector(".review-item.current")
    page_fits(phone)
    phone.keyboard.press("a")
    phone.wait_for_function("document.getElementById('progress-text').textContent === '1/10'")


def test_admin_pages_with_wide_tables_scroll_inside_their_cards(phone):
    task = TaskFactory(slug="a-task-with-a-rather-long-slug-for-tables")
    for _ in range(3):
        SampleFactory(task=task, inputs="What colour is the square in the middle of this picture? " * 3)
    admin = AdminFactory()
    login(phone, admin.username)
    for url in ("/", "/tasks/", "/imports/", "/samples/", "/jobs/", "/qc/dashboard/", "/exports/", "/paraphrase/"):
        phone.goto(url)
        page_fits(phone)
        assert not phone.locator("#main-nav").is_visible(), url
    # at desktop width the whole admin navigation sits on one line (it wrapped at 1280 px)
    phone.set_viewport_size({"width": 1280, "height": 900})
    phone.goto("/")
    links = phone.locator("#main-nav a")
    tops = {round(links.nth(i).bounding_box()["y"]) for i in range(links.count())}
    assert len(tops) == 1, tops
