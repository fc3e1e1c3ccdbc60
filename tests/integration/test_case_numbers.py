"""Readable case numbers (案件编号 2026-10-000123): assigned at report in the order reports
arrive, per year of the business time in the city's zone, carried on the Reported event,
never handed out twice (two writers at once, a batch), and found again by the number."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from adapters.bootstrap import bootstrap
from tests.support import SH, T0, city, report
from workflows.commands import ReportCase
from workflows.numbering import MemoryNumbers, NumberPool, is_number


def test_the_number_names_year_month_and_sequence():
    pool = NumberPool(MemoryNumbers(), block=3)
    assert pool.next(datetime(2026, 11, 30, 23, 59, tzinfo=SH)) == "2026-11-000001"
    assert pool.next(datetime(2026, 12, 1, tzinfo=SH)) == "2026-12-000002"
    assert pool.next(datetime(2027, 1, 1, tzinfo=SH)) == "2027-01-000001"  # a new year
    assert is_number("2026-11-000001") and is_number(" 2026-11-1234567 ")
    assert not is_number("2026-11-001") and not is_number("0006dfaf") and not is_number(None)


def test_numbers_on_the_store_are_unique_ordered_and_found_again(store_env):
    cg = bootstrap(env=store_env, city=city())
    first = report(cg.service, at=T0)
    second = report(cg.service, at=T0 + timedelta(minutes=1))
    assert (first.number, second.number) == ("2026-10-000001", "2026-10-000002")
    assert cg.service.get(first.id).number == first.number  # carried on the event
    # the year is the city's (Shanghai): 2025-12-31 16:30 UTC is already 2026 there
    assert report(cg.service, at=datetime(2025, 12, 31, 16, 30, tzinfo=UTC)).number == "2026-01-000003"
    assert report(cg.service, at=datetime(2025, 12, 31, 15, 30, tzinfo=UTC)).number == "2025-12-000001"
    # two writers at once, and a batch: no number twice
    numbers: list[str] = []

    def many(n):
        for i in range(n):
            numbers.append(report(cg.service, at=T0 + timedelta(minutes=5 + i)).number)

    threads = [threading.Thread(target=many, args=(15,)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    batch = cg.service.execute([ReportCase(channel="patrol", category=first.category,
                                           grid=first.grid, actor="sup_zhang", occurred_at=T0)
                                for _ in range(10)])
    numbers += [cg.service.get(o.case_id).number for o in batch]
    assert len(numbers) == 40 and len(set(numbers)) == 40
    assert all(is_number(n) for n in numbers)
    cg.projections.catch_up()
    rows = cg.sql.query("SELECT number FROM cg_cases WHERE number IS NOT NULL")
    assert len(rows) == 44
    cg.close()


def test_a_case_is_found_by_its_number_over_http(tmp_path):
    import httpx

    from tests.e2e.http_support import LiveServer, console_login, login

    cg = bootstrap(data_dir=tmp_path, city=city())
    case = report(cg.service, description="坭岗路口垃圾堆积")
    with LiveServer(cg) as s, httpx.Client(base_url=s.url, follow_redirects=True) as c:
        headers = login(c, "chief_zhao")
        got = c.get(f"/api/cases/{case.number}", headers=headers)
        assert got.status_code == 200 and got.json()["case"]["case_id"] == str(case.id)
        assert got.json()["case"]["number"] == case.number
        missing = c.get("/api/cases/2026-10-999999", headers=headers)
        assert missing.status_code == 404 and "2026-10-999999" in missing.text
        console_login(c, "chief_zhao")
        page = c.get(f"/cases/{case.number}")
        assert page.status_code == 200 and str(page.url).endswith(f"/cases/{case.id}")
        assert case.number in page.text
        trail = c.get(f"/trail?case_id={case.number}")
        assert trail.status_code == 200 and case.number in trail.text
    cg.close()
