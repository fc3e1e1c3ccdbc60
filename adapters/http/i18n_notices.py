"""The words of the notifications pages (通知): the console's list and the field app's."""

from __future__ import annotations

NOTICE_WORDS = {
    "notifications": ("通知", "Notifications"),
    "m_tab_notices": ("通知", "Notices"),  # 城管通's tab: five tabs on a phone
    "n_unread": ("未读", "unread"),
    "n_total": ("共", "in all"),
    "n_mark_read": ("标为已读", "Mark as read"),
    "n_mark_all": ("全部标为已读", "Mark all as read"),
    "n_read": ("已读", "Read"),
    "n_none": ("暂无通知。", "No notifications."),
    "n_when": ("时间", "When"),
    "n_text": ("内容", "Notice"),
    "n_only_unread": ("只看未读", "Unread only"),
    "n_all": ("全部", "All"),
    "n_for_unit": ("本单位", "Your unit"),
    "n_for_role": ("本岗位", "Your desk"),
}
