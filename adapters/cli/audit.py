"""`casegrid audit`: the tamper-evident audit log (防篡改审计日志).

    casegrid audit keygen --out FILE        → FILE (Ed25519, mode 0600) and FILE.pub
    casegrid audit follow [--json]          → log every new event as a leaf
    casegrid audit head [--key FILE] [--publish BOOTSTRAP]  → log, sign a head now (and send it)
    casegrid audit verify [--key PUB]       → exit 7 if any event or head fails
    casegrid audit export --case ID --out BUNDLE [--key PUB]
    casegrid audit verify-bundle BUNDLE --key PUB   → offline, no database; exit 7 if bad

The signing key comes from --key or CASEGRID_AUDIT_KEY; verify takes the public key
(FILE.pub) or, without one, the public half of CASEGRID_AUDIT_KEY. See docs/audit.md.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from adapters.audit.bundle import MAX_BUNDLE_BYTES, export_case, verify_bundle
from adapters.audit.heads import keygen, load_private, load_public
from adapters.audit.log import AuditGap
from adapters.audit.publish import TOPIC, publish_head
from adapters.audit.service import audit_log
from adapters.cli.common import JsonOpt, casegrid, emit, fail, out
from domain.errors import CasegridError, ValidationError

audit_app = typer.Typer(help="Tamper-evident audit log (防篡改审计): leaves, signed heads, verify.",
                        no_args_is_help=True)
FAILED_EXIT = 7
KeyOpt = Annotated[str | None, typer.Option("--key", help="Key file (default $CASEGRID_AUDIT_KEY)")]


@audit_app.command("keygen")
def keygen_cmd(out_path: Annotated[Path, typer.Option("--out", help="Private key file to write")],
               as_json: JsonOpt = False):
    """A new Ed25519 signing key (keep it out of the repository) and its .pub."""
    try:
        if "\x00" in str(out_path) or len(str(out_path)) > 4096:
            raise ValidationError("out", "not a usable file path")
        pub, kid = keygen(out_path)
    except CasegridError as e:
        fail(e, as_json)
    except OSError as e:
        fail(ValidationError("out", f"cannot write: {e.strerror}"), as_json)
    emit({"key": str(out_path), "public_key": str(pub), "key_id": kid}, as_json,
         lambda: out.print(f"key {out_path}, public key {pub}, key id {kid}"))


def _run(ctx: typer.Context, as_json: bool, work):
    cg = casegrid(ctx, as_json)
    try:
        return work(audit_log(cg))
    except CasegridError as e:
        fail(e, as_json)
    except AuditGap as e:
        fail(ValidationError("events", str(e)), as_json)
    finally:
        cg.close()


@audit_app.command("follow")
def follow_cmd(ctx: typer.Context, as_json: JsonOpt = False):
    """Log every stored event not yet in the tree, in log order."""
    n = _run(ctx, as_json, lambda log: log.follow())
    emit({"logged": n}, as_json, lambda: out.print(f"{n} event(s) logged"))


@audit_app.command("head")
def head_cmd(ctx: typer.Context, key: KeyOpt = None,
             publish: Annotated[str | None, typer.Option(
                 "--publish", help="Kafka bootstrap servers: also send the head to the topic")] = None,
             topic: Annotated[str, typer.Option(help="Topic for --publish")] = TOPIC,
             as_json: JsonOpt = False):
    """Log what is new, then sign and store a tree head now (and publish it)."""
    for name, value in (("publish", publish), ("topic", topic)):
        if value is not None and (not value.strip() or len(value) > 500 or "\x00" in value):
            fail(ValidationError(name, "must be 1–500 characters, no NUL"), as_json)
    head = _run(ctx, as_json, lambda log: log.sign(load_private(key)))
    if publish:
        _publish(publish, topic, head, as_json)
    emit(head.as_dict(), as_json,
         lambda: out.print(f"head size {head.size} root {head.root_hash.hex()} at {head.at}"))


def _publish(bootstrap: str, topic: str, head, as_json: bool) -> None:
    from kafka import KafkaProducer
    from kafka.errors import KafkaError

    from adapters.kafka.outbound import producer_config

    producer = None
    try:
        producer = KafkaProducer(**producer_config(bootstrap, "casegrid-audit"))
        publish_head(producer, head, topic)
    except KafkaError as e:
        print(f"error: kafka ({bootstrap}): {type(e).__name__}: {e} (the head is stored)",
              file=sys.stderr)
        raise typer.Exit(1) from None
    finally:
        if producer is not None:
            producer.close(timeout=10)


@audit_app.command("verify")
def verify_cmd(ctx: typer.Context, key: KeyOpt = None, as_json: JsonOpt = False):
    """Recompute every leaf and head from the live events; exit 7 on any failure."""
    report = _run(ctx, as_json, lambda log: log.verify(load_public(key)))

    def text():
        out.print(f"{report.events} event(s), {report.leaves} leaf(s), {report.heads} head(s),"
                  f" {report.pending} not yet logged")
        for p in report.problems:
            who = f" case {p.case_id} v{p.version}" if p.case_id else ""
            out.print(f"{p.kind} at position {p.position}{who} {p.detail}".rstrip())
        out.print("ok" if report.ok else "FAILED")

    emit(report.as_dict(), as_json, text)
    if not report.ok:
        raise typer.Exit(FAILED_EXIT)


@audit_app.command("export")
def export_cmd(ctx: typer.Context,
               case: Annotated[str, typer.Option("--case", help="Case id (UUID)")],
               out_path: Annotated[Path, typer.Option("--out", help="Bundle file to write")],
               key: KeyOpt = None, as_json: JsonOpt = False):
    """One case's events, inclusion proofs, signed head and public key, in one file."""
    bundle = _run(ctx, as_json, lambda log: export_case(log.sql, log.events, case,
                                                          load_public(key)))
    try:
        if out_path.exists():
            raise ValidationError("out", f"'{str(out_path)[:200]}' exists; refusing to overwrite")
        out_path.write_text(json.dumps(bundle, ensure_ascii=False, indent=1), encoding="utf-8")
    except CasegridError as e:
        fail(e, as_json)
    except OSError as e:
        fail(ValidationError("out", f"cannot write: {e.strerror}"), as_json)
    emit({"bundle": str(out_path), "events": len(bundle["events"]),
          "head_size": bundle["head"]["size"]}, as_json,
         lambda: out.print(f"{len(bundle['events'])} event(s) under head of"
                           f" {bundle['head']['size']} written to {out_path}"))


@audit_app.command("verify-bundle")
def verify_bundle_cmd(bundle: Annotated[Path, typer.Argument(help="A bundle from `export`")],
                      key: Annotated[str, typer.Option("--key", help="The public key you trust")],
                      as_json: JsonOpt = False):
    """Check a bundle offline against a public key: no database needed. Exit 7 if bad."""
    try:
        if not bundle.is_file():
            raise ValidationError("bundle", f"no such file '{str(bundle)[:200]}'")
        if bundle.stat().st_size > MAX_BUNDLE_BYTES:
            raise ValidationError("bundle", f"at most {MAX_BUNDLE_BYTES} bytes")
        problems = verify_bundle(bundle.read_bytes(), load_public(key))
    except CasegridError as e:
        fail(e, as_json)
    emit({"ok": not problems, "problems": problems}, as_json,
         lambda: out.print("\n".join([*problems, "FAILED" if problems else "ok"]), markup=False))
    if problems:
        raise typer.Exit(FAILED_EXIT)
