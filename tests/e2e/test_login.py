import pytest

from tests.e2e.conftest import login
from tests.factories import AdminFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_admin_logs_in_and_sees_the_tasks_chart(page):
    from annotator.registry import load_tasks

    load_tasks()
    admin = AdminFactory()
    login(page, admin.username)
    assert page.locator("#admin-overview").is_visible()
    page.click("text=Tasks")
    assert page.locator("svg.chart rect").count() >= 8 * 3
    assert page.locator("h2", has_text="Video").count() == 1
