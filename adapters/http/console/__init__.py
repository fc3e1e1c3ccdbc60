"""The web console (监督指挥中心控制台): server-rendered pages with a little vanilla JS.

Every page reads through the same functions as the JSON API (adapters/http/api/) and
every action goes through the same lifecycle guard, so the console can show or do
nothing the API would not. Chinese by default; `?lang=en` (the 中/EN switch) sets a cookie.

pages (the shared router, the viewer, page rendering), auth (login, logout, language),
queues (the center's queues, a unit's inbox), case_list, case_page (a case and its
steps), report_form, boards (scoreboard, trail),
map, reports (the reports page), patrol (a squad's daily report), events (live alerts).
"""

from adapters.http.console.pages import router

# each module adds its routes to `router` when imported: in this order
# isort: off
from adapters.http.console import (  # noqa: F401
    auth, queues, case_list, case_page, report_form, boards, map, reports, patrol, events, icon)
# isort: on

__all__ = ["router"]
