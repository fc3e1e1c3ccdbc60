"""The words of the audit badge on the trail page (防篡改审计)."""

from __future__ import annotations

AUDIT_WORDS = {
    "audit_verified": ("✓ 审计核验通过：记录与签名树头一致", "✓ Audit proof holds: the records match the signed head"),
    "audit_failed": ("✗ 审计核验未通过：记录与签名树头不符", "✗ Audit proof FAILED: the records differ from the signed head"),
    "audit_unsigned": ("尚无覆盖本案全部记录的签名树头", "No signed head covers all of this case yet"),
    "audit_off": ("未配置审计公钥，无法核验", "No audit key configured: not checked"),
    "audit_head": ("树头", "head of"),
    "audit_events": ("条记录", "events"),
}
