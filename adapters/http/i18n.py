"""The console's words, in Chinese (default) and English (the 中/EN switch)."""

from __future__ import annotations

from adapters.http.i18n_assist import ASSIST_WORDS
from adapters.http.i18n_audit import AUDIT_WORDS
from adapters.http.i18n_field import FIELD_WORDS
from adapters.http.i18n_notices import NOTICE_WORDS
from domain import glossary

ROLE = glossary.ROLE
QUEUE = glossary.QUEUE

WORDS = {
    "app": ("数字城管监督指挥中心", "Digital urban management center"),
    "login": ("登录", "Log in"), "logout": ("退出", "Log out"),
    "user_id": ("用户名", "User id"), "password": ("密码", "Password"),
    "demo_logins": ("演示账号（密码均为 demo）", "Demo logins (password: demo)"),
    "queues": ("工作台", "Queues"), "inbox": ("本单位待办", "Unit inbox"),
    "report": ("上报", "Report"), "cases": ("案件", "Cases"), "map": ("地图", "Map"),
    "scoreboard": ("考评排名", "Scoreboard"), "trail": ("责任倒查", "Accountability"),
    "case": ("案件", "Case"), "state": ("状态", "State"), "category": ("类别", "Category"),
    "grid": ("网格", "Grid cell"), "community": ("社区", "Community"), "unit": ("责任单位", "Unit"),
    "due": ("时限", "Due"), "due_at": ("截止时间", "Due at"), "overdue": ("已超时", "Overdue"),
    "near": ("临近", "Due soon"), "ok": ("正常", "On time"),
    "channel": ("渠道", "Channel"), "urgency": ("紧急程度", "Urgency"),
    "description": ("描述", "Description"), "evidence": ("证据材料", "Evidence"),
    "timeline": ("时间线", "Timeline"), "time": ("发生时间", "Occurred"),
    "event": ("事件", "Event"), "actor": ("操作人", "Actor"), "role": ("角色", "Role"),
    "after": ("之后状态", "State after"), "step_due": ("应完成", "Step due"),
    "detail": ("说明", "Detail"), "late": ("超时", "late"),
    "actions": ("可执行操作", "Actions you may take now"),
    "no_actions": ("当前角色在此状态下无可执行操作。", "Your role has no step in this state."),
    "read_only": ("纪检监察只读：可查看全部，不可操作。", "Inspectors read everything and change nothing."),
    "holder": ("当前责任主体", "Held by"), "held_by": ("责任主体", "Held by"), "reporter": ("上报人", "Reporter"),
    "reported_at": ("上报时间", "Reported"), "version": ("版本", "Version"),
    "submit": ("提交", "Submit"), "reason": ("理由/意见", "Reason"),
    "passed": ("通过", "Passed"), "failed": ("不通过", "Failed"),
    "approve": ("同意", "Approve"), "reject": ("不同意", "Reject"),
    "suggested": ("确责建议", "Routing suggestion"), "rule": ("规则", "Rule"),
    "basis": ("依据", "Basis"), "extra": ("延长时间（如 4h、2d）", "Extra time (e.g. 4h, 2d)"),
    "closure_type": ("结案类型", "Closure type"), "rating": ("评价", "Rating"),
    "contact": ("报案人联系方式", "Reporter's contact"),
    "contact_hint": ("市民举报、12345热线：回访用，受保护，仅中心可见", "citizen and hotline reports: for the callback, protected, seen by the center only"),
    "contact_protected": ("（受保护，仅中心可见）", "(protected: the center only)"),
    "merged_contacts": ("并入案件的报案人", "Reporters of merged reports"),
    "reporter_name": ("姓名", "Name"), "reporter_phone": ("电话", "Phone"),
    "satisfaction": ("群众满意度", "Citizen's satisfaction"), "comment": ("群众意见", "Citizen's comment"),
    "evidence_url": ("照片链接", "Photo URL"), "lat": ("纬度", "Latitude"), "lon": ("经度", "Longitude"),
    "all": ("全部", "All"), "filter": ("筛选", "Filter"), "count": ("数量", "Count"),
    "by": ("维度", "By"), "from": ("起", "From"), "to": ("止", "To"),
    "rank": ("排名", "Rank"), "name": ("名称", "Name"), "score": ("得分", "Score"),
    "grade": ("等次", "Grade"), "indicator": ("指标", "Indicator"),
    "chart": ("分周趋势", "Week by week"), "numerator": ("分子", "Numerator"),
    "denominator": ("分母", "Denominator"), "value": ("数值", "Value"),
    "missed": ("超时记录", "Missed deadlines"), "custody": ("持有记录", "Custody"),
    "person": ("经办人", "Person"), "met": ("按时", "Met"), "overrun": ("超出(分钟)", "Overrun (min)"),
    "step": ("环节", "Step"), "done_at": ("实际完成", "Done at"), "extensions": ("延期", "Extensions"), "returns": ("退回", "Returns"),
    "reworks": ("返工", "Reworks"), "urgings": ("督办", "Urgings"), "shelving": ("挂账", "Shelving"),
    "by_unit": ("按单位", "By unit"), "by_case": ("按案件", "By case"),
    "case_id": ("案件编号", "Case id"), "open": ("打开", "Open"),
    "open_cases": ("在办案件", "Open cases"), "legend": ("图例", "Legend"),
    "overdue_by_unit": ("各单位超时在办", "Overdue by unit"),
    "unavailable": ("该统计模块尚未就绪。", "This read model is not available yet."),
    "error": ("出错了", "Error"), "back": ("返回", "Back"), "more": ("更多", "more"),
    "done": ("已完成", "Done"), "none": ("无", "none"), "yes": ("是", "yes"), "no": ("否", "no"),
    "mine": ("我的待办", "My queues"), "others": ("其他队列", "Other queues"),
    "as_of": ("截至", "As of"), "explain": ("指标溯源", "Where this figure comes from"),
    "trail_of": ("案件责任倒查", "Trail of case"), "stale": ("案件已被他人更新，请重新确认", "The case changed meanwhile; check again"),
    "reports": ("报表", "Reports"), "patrol_report": ("巡查日报 / 零报告", "Patrol report / nil report"),
    "squad": ("中队", "Squad"), "date": ("日期", "Date"), "nil": ("零报告（今日无发现）", "Nil report (nothing found)"),
    "findings": ("发现数", "Findings"), "case_ids": ("案件编号（空格分隔）", "Case ids (space separated)"),
    "note": ("备注", "Note"), "patrol_days": ("近七日巡查日报情况", "Patrol reports, last 7 days"),
    "daily": ("日汇总", "Daily summary"), "weekly": ("周小结", "Weekly summary"),
    "monthly": ("月通报", "Monthly bulletin"), "download": ("下载", "Download"),
    "lang": ("EN", "中文"),
    # the case page's steps, the trail and the scoreboard (h3)
    "reason_required": ("请填写理由：此操作必须说明理由", "Give a reason: this step needs one"),
    "confirm_q": ("确认执行「{}」？此操作不可撤销。", "Really {}? This cannot be undone."),
    "confirm": ("确认", "Confirm"), "cancel": ("取消", "Cancel"),
    "destructive": ("退回/否决类操作", "undoes work"), "required": ("必填", "required"),
    "required_if_rejected": ("不通过/不同意时必填", "required when rejecting"),
    "auto": ("自动判定", "Automatic"), "on_time": ("按时", "on time"),
    "extended_by": ("延长", "extended by"), "hours": ("小时", "h"),
    "current": ("当前", "current"), "past": ("已结束", "ended"),
    "menu": ("菜单", "Menu"), "reported": ("上报", "Reported"), "resolved_at": ("处置完成", "Resolved"),
    "place": ("地点", "Place"), "late_q": ("是否超时", "Late?"), "missed_steps": ("超时环节", "Missed steps"),
    "lines": ("显示曲线", "Lines shown"), "top5": ("前5名", "Top 5"), "partial": ("未完", "partial"),
    "partial_note": ("虚线为尚未结束的本周，数据不完整", "Dashed: the current week, not over yet"),
    "hidden_cases": ("条不属本单位，未列出", "cases of other units, not listed"),
    "kind": ("类型", "Kind"), "outcome": ("结果", "Outcome"), "at": ("时间", "When"),
    "step_deadline": ("环节时限（是否按时）", "Step due (on time?)"),
    "not_late": ("未超时", "not late"), "minutes": ("分钟", "min"),
    # the banner after a step (case_actions.done_message): what changed
    "done_moved": ("{what}，案件现为「{state}」", "{what}. The case is now: {state}"),
    "done_holder": ("，由 {holder} 办理", ", held by {holder}"),
    "done_due": ("，{step}时限 {due}", "; {step} due {due}"),
    "done_dispatched": ("已派遣至 {unit}", "Dispatched to {unit}"),
    "done_step": ("已{action}", "{action}: done"), "done_end": ("。", "."),
    # the map, its location picker, live alerts and the reports' periods (h4)
    "map_cluster": ("聚合点（案件数）", "Cluster (number of cases)"),
    "pick_on_map": ("在地图上点击选择位置：自动填写经纬度并选中所在网格", "Click the map to fill latitude, longitude and the grid cell"),
    "pick_outside": ("该点不在任何网格内", "That point lies outside every grid cell"),
    "alert_sound": ("提示音", "Sound"), "alert_close": ("关闭", "Close"),
    "alert_on": ("：开", ": on"), "alert_off": ("：关", ": off"),
    "alert_dispatched": ("新派遣案件", "New case dispatched"), "alert_due": ("即将超时", "Due soon"),
    "alert_reported": ("新上报案件", "New case reported"), "alert_more": ("另有 {n} 条提醒", "{n} more alerts"),
    "period": ("报表周期", "Period"), "day": ("日", "Day"), "week": ("周", "Week"), "month": ("月", "Month"),
    "show": ("查看", "Show"), "patrol_period": ("巡查日报情况", "Patrol reports"),
    "patrol_status": ("报告情况", "Status"), "patrol_cases": ("当日巡查上报", "Patrol cases that day"),
    # the case list: search, pages, saved filters, export (lead)
    "search": ("查询", "Search"), "search_hint": ("编号、描述或外部编号", "Number, description or external id"),
    "export_xlsx": ("导出 Excel", "Export to Excel"), "save_filter": ("保存为常用查询", "Save as a filter"),
    "filter_name": ("名称", "Name"), "saved_filters": ("常用查询", "Saved filters"),
    "delete": ("删除", "Delete"), "prev": ("上一页", "Previous"), "next": ("下一页", "Next"),
    "page_of": ("第 {page} / {pages} 页", "Page {page} of {pages}"),
    "rows_of": ("第 {first}–{last} 条，共 {total} 条", "{first}–{last} of {total}"),
    "per_page": ("每页", "Per page"), "sort": ("排序", "Sort"), "late_any": ("是否超时", "Late or not"),
    "late_yes": ("超时（逾期或曾超时）", "Late (overdue or missed a step)"), "late_no": ("未超时", "Not late"),
    "reported_desc": ("上报时间（新→旧）", "Reported (newest first)"),
    "reported_asc": ("上报时间（旧→新）", "Reported (oldest first)"), "due_asc": ("截止时间（近→远）", "Due (soonest first)"),
    "number_asc": ("案件编号", "Case number"), "reset": ("清除条件", "Clear"),
    "no_cases": ("没有符合条件的案件。", "No case matches these filters."),
    "see_all": ("查看全部 {n} 条", "See all {n}"),
    "overdue_now": ("当前已逾期", "Overdue now"),
    "field_app": ("城管通", "Field app"),
    "refused_as": ("「{state}」状态下，{role}不能执行「{action}」。", "{role} cannot {action} a case that is {state}."),
    "invalid_field": ("「{field}」填写不符合要求。", "{field}: not accepted."),
    "not_found": ("找不到该案件或记录。", "Not found."), "no_access": ("当前角色无权查看或操作。", "Your role may not see or do this."), "assist_units": ("协办单位", "Assisting units"),
}


WORDS |= FIELD_WORDS  # the field app's (城管通, /m/)
WORDS |= NOTICE_WORDS  # notifications (通知)
WORDS |= ASSIST_WORDS  # 主办/协办, 指派到人
WORDS |= AUDIT_WORDS  # the trail page's audit badge (防篡改审计)

WORDS |= {  # photo evidence (证据材料): the case page's groups, the forms' photo field
    "ev_before": ("上报照片（处置前）", "Reported (before)"),
    "ev_after": ("处置后照片", "After resolving"), "ev_check": ("核查照片", "At the check"),
    "ev_other": ("其他材料", "Other"), "ev_photo": ("照片", "Photo"),
    "ev_open": ("查看大图", "Open the photo"), "ev_original": ("原始文件", "Original file"),
    "photos": ("现场照片", "Photos"),
    "photo_hint": ("JPEG、PNG 或 WebP，每张不超过 {mb} MB，最多 {n} 张", "JPEG, PNG or WebP, up to {mb} MB each, at most {n}"),
    "evidence_more": ("或照片链接", "or photo URLs"),
    "choose_photos": ("选择照片", "Choose photos"), "no_photo_chosen": ("未选择照片", "No photo chosen"),
    "photos_chosen": ("已选择 {n} 张：", "{n} chosen:"),
    "photos_too_many": ("照片张数超过限制", "Too many photos"),
    "photo_too_big": ("照片超过大小限制：", "Photo over the size limit:"),
}

WORDS |= {  # 重复案件合并 (the case page's merge panel)
    "possible_duplicates": ("可能重复的案件", "Possible duplicates"),
    "no_duplicates": ("附近未发现同类未结案件。", "No open case of this category nearby."),
    "merged_into": ("本案件为重复上报，已并入案件", "This report is a duplicate, merged into case"),
    "merged_reports": ("并入的重复上报", "Duplicate reports merged in"),
    "merge_into_this": ("合并到此案件", "Merge into this case"),
    "merge_original": ("原案件编号", "Original case number"),
    "merge": ("合并", "Merge"), "no_photo": ("无照片", "No photo"),
    "ev_dup": ("并入的重复上报照片", "Photos of a merged duplicate"),
    "merge_into_refused": ("不能合并：原案件须为另一件未结案、未被合并的案件（请核对案件编号）",
                           "Cannot merge: the original must be another open case, not itself merged"),
    "merge_default_reason": ("同一问题重复上报", "The same problem reported again"),
}


def word(key: str, lang: str) -> str:
    pair = WORDS.get(key) or QUEUE.get(key) or ROLE.get(key)
    if pair is None:
        return key
    return pair[1] if lang == "en" else pair[0]
