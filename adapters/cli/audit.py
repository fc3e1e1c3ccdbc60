"""`casegrid audit`: the tamper-evident audit log (防篡改审计日志).

    casegrid audit keygen --out FILE        → FILE (Ed25519, mode 0600) and FILE.pub
    casegrid audit follow [--json]          → log every new event as a leaf
    casegrid audit head [--key FILE] [--publish BOOTSTRAP]  → log, sign a head now (and send
                                            every head not yet sent)
    casegrid audit sign [--loop --interval S] [--bootstrap B]  → sign when the tree grew
    casegrid audit verify [--key PUB|KEYRING] [--strict]  → exit 7 if any event or head fails
    casegrid audit export (--case ID|NUMBER | --from D --to D) --out BUNDLE [--key FILE]
    casegrid audit verify-bundle BUNDLE --key PUB|KEYRING   → offline, no database; exit 7 if bad
    casegrid audit keys add --keyring FILE --pub NEW.pub [--from TIME]  → key rotation

The signing key comes from --key or CASEGRID_AUDIT_KEY; verify takes the public key
(FILE.pub), a keyring file, or without one the public half of CASEGRID_AUDIT_KEY.
See docs/audit.md.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from adapters.audit.bundle import MAX_BUNDLE_BYTES, export_case, export_period
from adapters.audit.bundle_check import verify_bundle
from adapters.audit.heads import keygen, load_private, load_public
from adapters.audit.keys import add_key, load_keys
from adapters.audit.log import AuditGap
from adapters.audit.publish import TOPIC, publish_pending
from adapters.audit.service import audit_log
from adapters.audit.signer import LEASE, Signer, kafka_producer
from adapters.cli.cases import by_number
from adapters.cli.common import JsonOpt, casegrid, emit, fail, out
from adapters.cli.singleton import run_singleton_loop, stop_on_signals
from domain.errors import CasegridError, ValidationError
from domain.times import parse_period, parse_time

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
    """Log what is new, then sign and store a tree head now (and send every unsent head)."""
    for name, value in (("publish", publish), ("topic", topic)):
        _check_text(name, value, as_json)
    head = _run(ctx, as_json, lambda log: log.sign(load_private(key)))
    if publish:
        _publish(ctx, publish, topic, as_json)
    emit(head.as_dict(), as_json,
         lambda: out.print(f"head size {head.size} root {head.root_hash.hex()} at {head.at}"))


def _publish(ctx: typer.Context, bootstrap: str, topic: str, as_json: bool) -> None:
    """Every stored head not yet on the topic, oldest first (this one last)."""
    from kafka.errors import KafkaError

    producer = None
    try:
        producer = kafka_producer(bootstrap)
        _run(ctx, as_json, lambda log: publish_pending(log.sql, producer, topic))
    except KafkaError as e:
        print(f"error: kafka ({bootstrap}): {type(e).__name__}: {e} (the head is stored;"
              " it is sent with the next `audit head --publish` or signer round)",
              file=sys.stderr)
        raise typer.Exit(1) from None
    finally:
        if producer is not None:
            producer.close(timeout=10)


def _check_text(name: str, value: str | None, as_json: bool) -> None:
    if value is not None and (not value.strip() or len(value) > 500 or "\x00" in value):
        fail(ValidationError(name, "must be 1–500 characters, no NUL"), as_json)


@audit_app.command("sign")
def sign_cmd(ctx: typer.Context, key: KeyOpt = None,
             loop: Annotated[bool, typer.Option(help="Keep signing every --interval seconds")] = False,
             interval: Annotated[float, typer.Option(help="Seconds between rounds (0.1–86400)")] = 60.0,
             singleton: Annotated[bool, typer.Option(
                 help="With --loop: sign only while holding the 'audit-signer' lease (租约)")] = True,
             bootstrap: Annotated[str | None, typer.Option(
                 "--bootstrap", help="Kafka bootstrap servers: publish every unsent head")] = None,
             topic: Annotated[str, typer.Option(help="Topic for the heads")] = TOPIC,
             as_json: JsonOpt = False):
    """Sign a head when the tree grew since the last one (and publish unsent heads)."""
    _check_text("bootstrap", bootstrap, as_json)
    _check_text("topic", topic, as_json)
    if not 0.1 <= interval <= 86400:
        fail(ValidationError("interval", "must be 0.1–86400 seconds"), as_json)
    try:
        private = load_private(key)
    except CasegridError as e:
        fail(e, as_json)
    cg = casegrid(ctx, as_json)
    signer = Signer(audit_log(cg), private, bootstrap, topic)
    try:
        if not loop:
            head = signer.step()
            emit({"signed": head.as_dict() if head else None}, as_json,
                 lambda: out.print(f"head size {head.size}" if head else "no new events"))
            return
        if singleton:
            run_singleton_loop(cg, LEASE, signer.step, interval, retry=min(interval, 5.0))
            return
        stop = stop_on_signals()
        while not stop.is_set():
            signer.step()
            stop.wait(interval)
    finally:
        signer.close()
        cg.close()


@audit_app.command("verify")
def verify_cmd(ctx: typer.Context,
               key: Annotated[str | None, typer.Option(
                   "--key", help="Public key (.pub) or keyring file (default: $CASEGRID_AUDIT_KEY's)")] = None,
               strict: Annotated[bool, typer.Option(
                   help="Also fail (exit 7) when events are not yet covered by a signed head")] = False,
               as_json: JsonOpt = False):
    """Recompute every leaf and head from the live events; exit 7 on any failure."""
    report = _run(ctx, as_json, lambda log: log.verify(load_keys(key)))

    def text():
        out.print(f"{report.events} event(s), {report.leaves} leaf(s), {report.heads} head(s),"
                  f" {report.unlogged} not yet logged", markup=False)
        for p in report.problems:
            who = f" case {p.case_id} v{p.version}" if p.case_id else ""
            out.print(f"{p.kind} at position {p.position}{who} {p.detail}".rstrip(), markup=False)
        if (p := report.first_pending) is not None:
            out.print(f"pending: {report.pending} event(s) from position {p.position} (case"
                      f" {p.case_id} v{p.version}) not yet covered by a signed head", markup=False)
        out.print("ok" if report.ok else "FAILED")

    emit(report.as_dict(), as_json, text)
    if not report.ok or (strict and report.pending):
        raise typer.Exit(FAILED_EXIT)


def _period(cg, start: str | None, end: str | None) -> tuple[datetime, datetime, str]:
    """--from/--to days in the city's zone, both included: [from 00:00, to+1 00:00)."""
    if not start or not end:
        raise ValidationError("from" if not start else "to", "give both --from and --to (YYYY-MM-DD),"
                                                              " or --case")
    a, b = parse_period(start, end)
    tz = cg.city.tz
    first = datetime(a.year, a.month, a.day, tzinfo=tz)
    after = b + timedelta(days=1)
    return first, datetime(after.year, after.month, after.day, tzinfo=tz), f"{a}..{b}"


def _bundle(ctx: typer.Context, case: str | None, start: str | None, end: str | None,
            key: str | None, keys: str | None, as_json: bool) -> dict:
    if case is not None and (start is not None or end is not None):
        fail(ValidationError("case", "give --case or --from/--to, not both"), as_json)
    cg = casegrid(ctx, as_json)
    try:
        private = load_private(key)
        ring = load_keys(keys) if keys else None
        log = audit_log(cg)
        if case is not None:
            if not isinstance(case, str) or len(case) > 100 or not case.strip():
                raise ValidationError("case", "must be a case id or number (2026-12-000123)")
            return export_case(log.sql, log.events, by_number(cg, case.strip()), private, ring)
        first, until, days = _period(cg, start, end)
        return export_period(log.sql, log.events, first, until, days, private, ring)
    except CasegridError as e:
        fail(e, as_json)
    finally:
        cg.close()


@audit_app.command("export")
def export_cmd(ctx: typer.Context,
               out_path: Annotated[Path, typer.Option("--out", help="Bundle file to write")],
               case: Annotated[str | None, typer.Option(
                   "--case", help="Case id or number (2026-12-000123)")] = None,
               start: Annotated[str | None, typer.Option(
                   "--from", help="First day recorded (YYYY-MM-DD, city time)")] = None,
               end: Annotated[str | None, typer.Option(
                   "--to", help="Last day recorded (YYYY-MM-DD, included)")] = None,
               key: Annotated[str | None, typer.Option(
                   "--key", help="Signing key: signs the bundle's manifest (default $CASEGRID_AUDIT_KEY)")] = None,
               keys: Annotated[str | None, typer.Option(
                   "--keys", help="Keyring the head must be accepted by (default: the signing key)")] = None,
               as_json: JsonOpt = False):
    """A case's (or a period's) events, inclusion proofs, signed head and manifest, in one file."""
    if out_path.exists():
        fail(ValidationError("out", f"'{str(out_path)[:200]}' exists; refusing to overwrite"), as_json)
    bundle = _bundle(ctx, case, start, end, key, keys, as_json)
    text = json.dumps(bundle, ensure_ascii=False, indent=1)
    try:
        if len(text.encode("utf-8")) > MAX_BUNDLE_BYTES:
            raise ValidationError("to", f"the bundle would exceed {MAX_BUNDLE_BYTES} bytes:"
                                        " export a shorter period")
        _write_new(out_path, text)
    except CasegridError as e:
        fail(e, as_json)
    except OSError as e:
        fail(ValidationError("out", f"cannot write: {e.strerror}"), as_json)
    emit({"bundle": str(out_path), "events": len(bundle["events"]), "scope": bundle["scope"],
          "head_size": bundle["head"]["size"]}, as_json,
         lambda: out.print(f"{len(bundle['events'])} event(s) under head of"
                           f" {bundle['head']['size']} written to {out_path}", markup=False))


def _write_new(path: Path, text: str) -> None:
    """Write the whole bundle beside `path`, then link it into place: a run killed
    midway leaves no half bundle under the name (at most a hidden .partial file beside
    it), and an existing file is never overwritten."""
    if "\x00" in str(path) or len(str(path)) > 4096:
        raise ValidationError("out", "not a usable file path")
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        with partial.open("w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(partial, path)
        except FileExistsError:
            raise
        except OSError:  # a file system without hard links: create it exclusively
            with path.open("x", encoding="utf-8") as f:
                f.write(text)
    except FileExistsError:
        raise ValidationError("out", f"'{str(path)[:200]}' exists; refusing to overwrite") from None
    finally:
        partial.unlink(missing_ok=True)


@audit_app.command("verify-bundle")
def verify_bundle_cmd(bundle: Annotated[Path, typer.Argument(help="A bundle from `export`")],
                      key: Annotated[str, typer.Option(
                          "--key", help="The public key (or keyring) you trust")],
                      as_json: JsonOpt = False):
    """Check a bundle offline against the keys you trust: no database. Exit 7 if bad."""
    try:
        keys = load_keys(key)
        if not bundle.is_file():
            raise ValidationError("bundle", f"no such file '{str(bundle)[:200]}'")
        if bundle.stat().st_size > MAX_BUNDLE_BYTES:
            raise ValidationError("bundle", f"at most {MAX_BUNDLE_BYTES} bytes")
        data = bundle.read_bytes()
    except CasegridError as e:
        fail(e, as_json)
    try:
        problems = verify_bundle(data, keys)
    except ValidationError as e:  # unreadable: refused like any other bad bundle
        problems = [str(e)]
    emit({"ok": not problems, "problems": problems}, as_json,
         lambda: out.print("\n".join([*problems, "FAILED" if problems else "ok"]), markup=False))
    if problems:
        raise typer.Exit(FAILED_EXIT)


keys_app = typer.Typer(help="Key rotation (密钥轮换): the public keys verify trusts.",
                       no_args_is_help=True)
audit_app.add_typer(keys_app, name="keys")


@keys_app.command("add")
def keys_add_cmd(keyring: Annotated[Path, typer.Option("--keyring", help="Keyring file (JSON)")],
                 pub: Annotated[str, typer.Option("--pub", help="The new public key (.pub)")],
                 start: Annotated[str | None, typer.Option(
                     "--from", help="Valid from (ISO 8601; default now); closes the open key")] = None,
                 as_json: JsonOpt = False):
    """Introduce a key: valid from --from on; the key valid until then is closed there."""
    try:
        if "\x00" in str(keyring) or len(str(keyring)) > 4096:
            raise ValidationError("keyring", "not a usable file path")
        when = parse_time(start, "from", UTC) if start is not None else datetime.now(UTC)
        ring = add_key(keyring, load_public(pub), when)
    except CasegridError as e:
        fail(e, as_json)
    except OSError as e:
        fail(ValidationError("keyring", f"cannot write: {e.strerror}"), as_json)
    emit(ring.as_dict(), as_json, lambda: [out.print(
        f"{k.key_id} {k.valid_from.isoformat() if k.valid_from else '…'} .."
        f" {k.valid_until.isoformat() if k.valid_until else '…'}", markup=False) for k in ring.keys])
