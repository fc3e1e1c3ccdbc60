"""The glossary (术语表): every code a person may read, with its Chinese and English label.

One place for the words: the lifecycle (domain/lifecycle.py) takes its state and trigger
names from here, and the console, the API's docs, the reports and the bulletins read their
labels here, so a word is changed once. Each entry is code → (中文, English).
"""

from __future__ import annotations

STATE = {
    "new": ("未上报", "Not reported"),
    "pending_verification": ("待核实", "Awaiting verification"),
    "pending_filing": ("待立案", "Awaiting filing"),
    "pending_dispatch": ("待派遣", "Awaiting dispatch"),
    "dispatched": ("处置中", "With the unit"),
    "extension_requested": ("延期待批", "Extension requested"),
    "shelve_requested": ("挂账待批", "Shelving requested"),
    "pending_check": ("待核查", "Awaiting check"),
    "pending_closure": ("待结案", "Awaiting closure"),
    "shelved": ("已挂账", "Shelved"),
    "closed": ("已结案", "Closed"),
    "evaluated": ("已评价", "Evaluated"),
    "voided": ("已作废", "Voided"),
    "merged": ("已合并", "Merged as a duplicate"),
}

TRIGGER = {
    "report": ("上报", "Report"),
    "verify": ("核实", "Verify"),
    "file": ("立案", "File"),
    "refuse": ("不予立案/作废", "Refuse / void"),
    "dispatch": ("派遣", "Dispatch"),
    "return": ("退回", "Return to the center"),
    "request_extension": ("申请延期", "Request an extension"),
    "decide_extension": ("审批延期", "Decide the extension"),
    "request_shelve": ("申请挂账", "Request shelving"),
    "decide_shelve": ("审批挂账", "Decide the shelving"),
    "resolve": ("处置反馈", "Resolve"),
    "check": ("核查", "Check"),
    "close": ("结案", "Close"),
    "evaluate": ("评价", "Evaluate"),
    "urge": ("督办", "Urge"), "accept": ("签收", "Accept"),
    "callback": ("回访", "Call back"),
    "merge": ("合并重复案件", "Merge as a duplicate"),
    "assist_feedback": ("协办反馈", "Assisting unit's feedback"),
    "assist_override": ("免除协办反馈", "Waive the assisting feedback"),
    "assign": ("指派到人", "Assign to a person"),
}

# a transition's own label where one trigger has two outcomes
OUTCOME = {
    ("check", True): ("核查通过", "Check passed"),
    ("check", False): ("核查不通过(返工)", "Check failed (rework)"),
    ("callback", False): ("回访", "Call back"),
    ("callback", True): ("回访不满意(返工)", "Call back: unsatisfied (rework)"),
}

EVENT = {
    "Reported": ("上报", "Reported"), "Verified": ("核实", "Verified"),
    "Filed": ("立案", "Filed"), "Refused": ("不予立案/作废", "Refused / voided"),
    "Dispatched": ("派遣", "Dispatched"), "Returned": ("退回", "Returned"),
    "ExtensionRequested": ("申请延期", "Extension requested"),
    "ExtensionDecided": ("延期审批", "Extension decided"),
    "ShelveRequested": ("申请挂账", "Shelving requested"),
    "ShelveDecided": ("挂账审批", "Shelving decided"),
    "Resolved": ("处置反馈", "Resolved"), "Checked": ("核查", "Checked"),
    "Closed": ("结案", "Closed"), "Evaluated": ("评价", "Evaluated"),
    "Urged": ("督办", "Urged"), "Accepted": ("签收", "Accepted"), "DeadlineMissed": ("超时", "Deadline missed"),
    "ContactGiven": ("报案人联系方式", "Reporter's contact"), "CalledBack": ("回访", "Called back"),
    "MergedInto": ("合并为重复案件", "Merged as a duplicate"),
    "DuplicateMerged": ("并入重复上报", "Duplicate report merged in"),
    "AssistRequested": ("协办派遣", "Assisting units named"),
    "AssistAnswered": ("协办反馈", "Assisting unit answered"),
    "AssistDeadlineMissed": ("协办超时", "Assisting deadline missed"),
    "AssistWaived": ("免除协办反馈", "Assisting feedback waived"),
    "Assigned": ("指派到人", "Assigned to a person"),
}

STEP = {
    "verify": ("核实", "Verification"), "file": ("立案", "Filing"),
    "dispatch": ("派遣", "Dispatch"), "resolve": ("处置", "Resolution"),
    "check": ("核查", "Check"), "close": ("结案", "Closure"),
    "assist": ("协办反馈", "Assisting feedback"),
}

CHANNEL = {
    "patrol": ("监督员巡查", "Supervisor patrol"),
    "citizen": ("公众举报", "Citizen report"),
    "hotline": ("12345热线", "12345 hotline"),
    "camera": ("视频监控", "Video camera"),
    "inspection": ("督查暗访", "Inspection"),
    "unit": ("成员单位自查", "Unit's own finding"),
}
# the short names the bulletins and the ledger print in their columns
CHANNEL_SHORT = {
    "patrol": ("巡查", "Patrol"), "citizen": ("群众举报", "Citizen"),
    "hotline": ("12345热线", "Hotline"), "camera": ("视频监控", "Camera"),
    "inspection": ("督查暗访", "Inspection"), "unit": ("成员单位自查", "Unit"),
}

# the scoreboard's dimensions (考评维度)
DIMENSION = {
    "unit": ("成员单位", "Member unit"), "grid": ("网格", "Grid cell"),
    "community": ("社区", "Community"), "street": ("街道", "Street"),
    "district": ("区", "District"), "squad": ("驻点中队", "Patrol squad"),
    "supervisor": ("监督员", "Supervisor"), "dispatcher": ("派遣员", "Dispatcher"),
    "duty-chief": ("值班长", "Duty chief"),
}

ROLE = {
    "supervisor": ("监督员", "Supervisor"),
    "channel": ("公众渠道", "Public channel"),
    "acceptor": ("受理员", "Acceptor"),
    "duty_chief": ("值班长", "Duty chief"),
    "dispatcher": ("派遣员", "Dispatcher"),
    "unit_member": ("成员单位", "Member unit"),
    "inspector": ("纪检监察", "Inspector"),
    "system": ("系统", "System"),
}

QUEUE = {
    "verification": ("待核实", "Awaiting verification"),
    "filing": ("待立案", "Awaiting filing"),
    "dispatch": ("待派遣", "Awaiting dispatch"),
    "check": ("待核查", "Awaiting check"),
    "closure": ("待结案", "Awaiting closure"),
    "extension_decision": ("延期待批", "Extension decisions"),
    "shelve_decision": ("挂账待批", "Shelving decisions"),
}

CLOSURE_TYPE = {
    "normal": ("正常结案", "Normal"), "overdue": ("超时结案", "Overdue"),
    "error": ("差错结案", "Closed in error"), "special": ("特殊结案", "Special"),
}

RATING = {
    "satisfied": ("满意", "Satisfied"), "basic": ("基本满意", "Mostly satisfied"),
    "unsatisfied": ("不满意", "Unsatisfied"),
}

# who a reward or penalty line is for (奖惩对象)
WHO = {
    "community": ("社区", "Community"), "street": ("镇/街道", "Street"),
    "squad": ("驻点中队", "Patrol squad"), "person": ("责任人", "Person responsible"),
    "citizen": ("举报人", "Citizen reporter"), "unit": ("成员单位", "Member unit"),
}

# a squad's daily patrol report (巡查日报 / 零报告)
PATROL_STATUS = {
    "reported": ("按时报告", "Reported on time"), "nil": ("零报告", "Nil report"),
    "late_reported": ("迟报", "Reported late"), "late_nil": ("迟报（零报告）", "Nil report, late"),
    "missed": ("未报告", "Not reported"), "open": ("未报告（未到截止）", "Not yet due"),
}

URGENCY = {"normal": ("一般", "Normal"), "urgent": ("紧急", "Urgent")}

# how a routing rule (确责规则) is founded
RULE_KIND = {"law": ("法定职责", "By law"), "precedent": ("判例", "By precedent"),
             "proposal": ("中心建议", "Center's proposal")}

# the scoreboard's figures (考评指标): counts and rates; domain/indicators.py holds their arithmetic
INDICATOR = {
    "reported": ("上报数", "Reported"), "patrol_reported": ("自行巡查上报数", "Found on patrol"),
    "valid": ("有效上报数(立案)", "Valid reports (filed)"), "filed": ("立案数", "Filed"),
    "patrol_filed": ("自行发现立案数", "Filed, own finding"),
    "others_filed": ("他人发现立案数(漏报)", "Filed, found by others (missed)"),
    "voided": ("作废数", "Voided"), "filed_voided": ("立案后作废数", "Voided after filing"),
    "dispatched": ("派遣数", "Dispatched"), "due": ("应处置数", "To resolve"),
    "resolved": ("处置数", "Resolved"), "on_time": ("按期处置数", "Resolved on time"),
    "overdue": ("超期数", "Overdue"), "overdue_open": ("超期未处置数", "Overdue, unresolved"),
    "reworked": ("返工案件数", "Cases reworked"), "rework_events": ("返工次数", "Reworks"),
    "returned": ("退回数", "Returned"), "extended": ("延期数", "Extended"),
    "shelved": ("挂账数", "Shelved"), "fix_passed": ("整改合格数", "Fixed and passed"),
    "due_closure": ("应结案数", "To close"), "closed": ("结案数", "Closed"),
    "closed_on_time": ("按期结案数", "Closed on time"), "verify_due": ("应核实数", "To verify"),
    "verify_on_time": ("按时核实数", "Verified on time"), "check_due": ("应核查数", "To check"),
    "check_on_time": ("按时核查数", "Checked on time"), "file_due": ("应立案数", "To file"),
    "file_on_time": ("按时立案数", "Filed on time"), "dispatch_due": ("应派遣数", "To dispatch"),
    "dispatch_on_time": ("按时派遣数", "Dispatched on time"),
    "dispatch_accurate": ("准确派遣数", "Dispatched accurately"), "urged": ("督办数", "Urged"),
    "filed_accurate": ("准确立案数", "Filed accurately"),
    "discovery_rate": ("发现率", "Discovery rate"), "valid_report_rate": ("有效上报率", "Valid report rate"),
    "miss_rate": ("漏报率", "Miss rate"), "resolution_rate": ("处置率", "Resolution rate"),
    "on_time_resolution_rate": ("按期处置率", "On-time resolution"),
    "rectification_rate": ("整改率", "Rectification rate"), "rework_rate": ("返工率", "Rework rate"),
    "overdue_rate": ("超期未处置率", "Overdue rate"), "extension_rate": ("延期率", "Extension rate"),
    "closure_rate": ("结案率", "Closure rate"), "on_time_closure_rate": ("按期结案率", "On-time closure"),
    "on_time_verify_rate": ("按时核实率", "On-time verification"),
    "on_time_check_rate": ("按时核查率", "On-time check"),
    "on_time_filing_rate": ("按时立案率", "On-time filing"),
    "accurate_filing_rate": ("准确立案率", "Accurate filing"),
    "on_time_dispatch_rate": ("按时派遣率", "On-time dispatch"),
    "accurate_dispatch_rate": ("准确派遣率", "Accurate dispatch"),
    "callbacks": ("回访数", "Callbacks"), "callbacks_satisfied": ("回访满意数", "Callbacks satisfied"),
    "satisfaction_rate": ("群众满意率", "Citizen satisfaction"),
    "assist_due": ("应协办反馈数", "Assisting answers due"),
    "assist_on_time": ("按时协办反馈数", "Assisting answers on time"),
    "assist_on_time_rate": ("协办按时反馈率", "Assisting answers on time (rate)"),
}


def zh(table: dict, key, default=None) -> str:
    """The Chinese label of `key` in `table` (the key itself, or `default`, if none)."""
    pair = table.get(key)
    return pair[0] if pair else (key if default is None else default)


def en(table: dict, key, default=None) -> str:
    pair = table.get(key)
    return pair[1] if pair else (key if default is None else default)


def label(table: dict, key, lang: str = "zh") -> str:
    """The label in `lang` ('zh' or 'en')."""
    return en(table, key) if lang == "en" else zh(table, key)


def zh_of(table: dict) -> dict:
    """code → Chinese label, for the places that want a plain mapping."""
    return {k: v[0] for k, v in table.items()}
