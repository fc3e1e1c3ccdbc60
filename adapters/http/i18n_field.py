"""The field app's words (城管通, /m/), Chinese and English; merged into i18n.WORDS.

Keys start with `m_`. `JS_WORDS` are the ones the page's script needs (queue states,
errors), handed to it in the page's language."""

from __future__ import annotations

FIELD_WORDS = {
    "m_app": ("城管通", "City Field"),
    "m_home": ("首页", "Home"), "m_report": ("上报问题", "Report a problem"),
    "m_inbox": ("待办", "Inbox"), "m_check": ("核查", "Check"),
    "m_patrol": ("巡查日报", "Patrol report"), "m_console": ("电脑版", "Desktop console"),
    "m_hello": ("你好", "Hello"),
    "m_tab_report": ("上报", "Report"), "m_tab_patrol": ("日报", "Patrol"),
    "m_not_field": ("城管通供监督员和成员单位使用；请使用电脑版控制台。",
                    "The field app is for supervisors and unit members; please use the console."),
    "m_photo": ("现场照片", "Photo"), "m_take_photo": ("拍照", "Take a photo"),
    "m_after_photo": ("处置后照片", "After photo"),
    "m_position": ("位置", "Position"), "m_locate": ("重新定位", "Locate again"),
    "m_locating": ("正在定位…", "Locating…"),
    "m_no_gps": ("无法定位，请手动选择网格", "No position: choose the grid cell yourself"),
    "m_cell_later": ("离线：网格将在联网后按位置确定", "Offline: the cell is found from the position when sent"),
    "m_cell_none": ("该位置不在本市网格内，请手动选择", "This position is in no grid cell: choose one"),
    "m_pick_cell": ("网格（按位置自动选择）", "Grid cell (from the position)"),
    "m_auto": ("按位置自动", "From the position"),
    "m_category": ("问题类别", "Category"), "m_choose": ("请选择", "Choose"),
    "m_urgency": ("紧急程度", "Urgency"), "m_normal": ("一般", "Normal"),
    "m_urgent": ("紧急", "Urgent"), "m_description": ("问题描述", "Description"),
    "m_send": ("提交", "Send"),
    "m_queue": ("待发送", "Waiting to send"), "m_queue_empty": ("全部已发送", "Everything sent"),
    "m_online": ("在线", "Online"), "m_offline": ("离线", "Offline"),
    "m_inbox_empty": ("暂无待办案件", "No cases waiting"),
    "m_check_empty": ("暂无待核查案件", "No cases to check"),
    "m_before": ("处置前", "Before"), "m_after_label": ("处置后", "After"),
    "m_no_photo": ("无照片", "No photo"),
    "m_resolve": ("处置完成", "Resolved"), "m_return": ("退回", "Return"),
    "m_return_reason": ("退回理由（必填）", "Reason for returning (required)"),
    "m_pass": ("核查通过", "Passed"), "m_fail": ("核查不通过", "Failed"),
    "m_fail_reason": ("不通过理由（必填）", "Why it failed (required)"),
    "m_reason_required": ("请填写理由", "A reason is required"),
    "m_need_category": ("请选择问题类别", "Choose a category"),
    "m_need_cell": ("请确定网格（定位或手动选择）", "A grid cell is needed (position or choose one)"),
    "m_need_photo": ("请拍摄处置后照片", "Take an after photo"),
    "m_note": ("说明", "Note"), "m_due": ("本环节时限", "Due"),
    "m_nil": ("零报告：今日巡查无发现", "Nil report: nothing found today"),
    "m_findings": ("今日发现问题数", "Problems found today"),
    "m_patrol_for": ("巡查日报", "Patrol report"),
    "m_no_squad": ("您不属于巡查中队，无需提交巡查日报。", "You belong to no squad: no patrol report."),
    "m_case_open": ("查看", "Open"), "m_no_step": ("当前无需您处理。", "Nothing for you to do here now."),
    "m_discard": ("删除", "Discard"),
}

# the words field.js shows (queue and form messages)
JS_WORDS = (
    "m_queue", "m_queue_empty", "m_online", "m_offline", "m_locating", "m_no_gps",
    "m_cell_later", "m_cell_none", "m_reason_required", "m_need_category", "m_need_cell",
    "m_need_photo", "m_discard",
    "m_q_waiting", "m_q_sending", "m_q_sent", "m_q_error", "m_q_failed", "m_q_queued",
    "m_q_report", "m_q_action", "m_q_patrol", "m_q_open", "m_q_photos", "m_relogin",
)
FIELD_WORDS |= {
    "m_q_waiting": ("条待发送", "waiting"), "m_q_sending": ("正在发送…", "Sending…"),
    "m_q_sent": ("已发送", "Sent"), "m_q_error": ("上次错误", "Last error"),
    "m_q_failed": ("被拒绝，请检查", "Refused: check it"),
    "m_q_queued": ("已保存，联网后自动发送", "Saved: it is sent when the network returns"),
    "m_q_report": ("上报", "Report"), "m_q_action": ("处置/核查", "Step"),
    "m_q_patrol": ("巡查日报", "Patrol report"), "m_q_open": ("查看案件", "Open the case"),
    "m_q_photos": ("照片", "photos"), "m_relogin": ("请重新登录", "Log in again"),
}
