"""The words of 主办/协办 and 指派到人 on the case page and the trail (issue 13 part 3)."""

from __future__ import annotations

ASSIST_WORDS = {
    "assist_units": ("协办单位", "Assisting units"),
    "assist_pick": ("协办单位（可多选，至多 5 个，不含主办单位）",
                    "Assisting units (several, at most 5, not the lead)"),
    "lead_unit": ("主办单位", "Lead unit"),
    "assist_text": ("协办反馈内容", "Your unit's feedback"),
    "assist_owed": ("待反馈", "Owes feedback"), "assist_answered": ("已反馈", "Answered"),
    "assist_missed": ("超时", "Missed"), "assist_waived": ("已免除", "Waived"),
    "assist_owed_note": ("协办单位反馈后方可处置反馈：", "The lead resolves once these answer: "),
    "assignee": ("承办人", "Assigned to"), "assign_to": ("指派给", "Assign to"),
    "assists": ("协办反馈", "Assisting units"),
    "asked_at": ("派遣时间", "Asked"), "answered_at": ("反馈时间", "Answered"),
    # 城管通 (/m/): an assisting unit's member answers from the phone
    "m_assist": ("提交协办反馈", "Send the feedback"),
    "m_assist_hint": ("本单位为协办单位：主办单位须待协办反馈后才能处置反馈。",
                      "Your unit assists on this case: the lead resolves once you answer."),
    "m_assist_need": ("请填写协办反馈内容", "Write your unit's feedback"),
    "m_assist_due": ("本单位反馈时限", "Your unit's due time"),
}
