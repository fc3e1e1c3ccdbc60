"""deploy/compose.yaml, deploy/k8s/ and the Dockerfile (issue 14, part 3): they parse, name
every service and kind a deployment needs, pin every image by tag and hold no secret value."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
K8S = DEPLOY / "k8s"
SECRET_KEYS = re.compile(r"PASSWORD|SECRET|_KEY$|TOKEN", re.I)


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))


def k8s_docs() -> list[dict]:
    docs = []
    for f in sorted(K8S.glob("*.yaml")):
        if f.name == "kustomization.yaml":
            continue
        docs += [d for d in yaml.safe_load_all(f.read_text(encoding="utf-8")) if d]
    return docs


def pinned(image: str) -> bool:
    name, _, tag = image.rpartition(":")
    return bool(name) and "/" not in tag and tag not in ("", "latest") and re.match(r"\w", tag)


def test_compose_names_every_service_with_health_restart_and_volumes():
    c = compose()
    services = c["services"]
    assert {"postgres", "kafka", "migrate", "api", "proxy", "kafka-in", "kafka-out",
            "notifications", "deadlines", "patrol", "projections-scoreboard", "projections",
            "audit-signer"} <= set(services)
    assert services["postgres"]["image"].startswith("postgres:15")
    kafka = services["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    assert kafka["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft
    for name, s in services.items():
        assert pinned(s["image"]), (name, s["image"])
        assert s["restart"] == ("no" if name == "migrate" else "unless-stopped"), name
    api = services["api"]
    assert "serve" in api["command"] and "/readyz" in " ".join(api["healthcheck"]["test"])
    assert api["environment"]["PERSISTENCE_MODULE"] == "eventsourcing.postgres"
    assert "ports" not in api  # only through the proxy
    assert "/healthz" in " ".join(services["proxy"]["healthcheck"]["test"])
    assert "--workers" in api["command"]
    assert services["migrate"]["command"] == ["db", "upgrade"]
    assert services["kafka-in"]["command"] == ["kafka", "run", "--in"]
    assert services["kafka-out"]["command"] == ["kafka", "run", "--out"]
    assert services["notifications"]["command"][:3] == ["notifications", "run", "--loop"]
    assert services["deadlines"]["command"][:3] == ["deadlines", "tick", "--loop"]
    assert services["projections-scoreboard"]["command"] == ["projections", "follow", "--only", "scoreboard"]
    assert services["projections"]["command"][:3] == ["projections", "follow", "--only"]
    assert services["audit-signer"]["command"][:4] == ["audit", "sign", "--loop", "--interval"]
    assert services["audit-signer"]["environment"]["CASEGRID_AUDIT_KEY"] == "/run/secrets/audit.key"
    assert {"pgdata", "evidence", "kafka-data"} <= set(c["volumes"])
    for name, s in services.items():
        if s.get("build"):
            assert any(v.startswith("evidence:") for v in s["volumes"]), name
            if name != "api":  # the image's HEALTHCHECK probes :8000: only the API serves it
                assert s["healthcheck"] == {"disable": True}, name
            if name != "migrate":  # every worker waits for the schema steps
                assert s["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}, name


def test_the_proxy_speaks_tls_with_hsts_and_keeps_metrics_inside():
    conf = (DEPLOY / "proxy" / "nginx.conf").read_text(encoding="utf-8")
    assert "listen 443 ssl" in conf and re.search(r"ssl_certificate\s+/etc/nginx/tls/tls.crt", conf)
    assert "Strict-Transport-Security" in conf and "return 301 https://" in conf
    assert "location = /metrics { return 404; }" in conf
    assert "TLSv1.2 TLSv1.3" in conf


def test_no_secret_value_is_committed():
    c = compose()
    for name, s in c["services"].items():
        for k, v in (s.get("environment") or {}).items():
            if SECRET_KEYS.search(k) and not str(v).startswith("/run/secrets/"):  # a file: fine
                assert str(v).startswith("${") and str(v).endswith("}"), (name, k, v)
    example = (DEPLOY / ".env.example").read_text(encoding="utf-8")
    for line in example.splitlines():
        if "=" in line and not line.startswith("#"):
            k, v = line.split("=", 1)
            if SECRET_KEYS.search(k):
                assert v == "", k
    for d in k8s_docs():
        if d["kind"] == "Secret":
            assert all(v == "" for v in d["stringData"].values()), d["metadata"]["name"]
            assert not d.get("data")
        if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "casegrid-env":
            assert not [k for k in d["data"] if SECRET_KEYS.search(k)]
    ignored = (DEPLOY.parent / ".gitignore").read_text(encoding="utf-8")
    assert "/deploy/.env" in ignored and "/deploy/secrets/" in ignored


def test_k8s_manifests_name_the_kinds_probes_and_pinned_images():
    docs = k8s_docs()
    kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
    deployments = {n for k, n in kinds if k == "Deployment"}
    assert {"casegrid-api", "casegrid-kafka-in", "casegrid-kafka-out", "casegrid-notifications",
            "casegrid-deadlines", "casegrid-patrol", "casegrid-projections-scoreboard",
            "casegrid-projections", "casegrid-audit-signer"} <= deployments
    assert ("Job", "casegrid-migrate") in kinds
    assert ("Service", "casegrid-api") in kinds and ("Secret", "casegrid-secrets") in kinds
    assert ("ConfigMap", "casegrid-city") in kinds and ("ConfigMap", "casegrid-env") in kinds
    for d in docs:
        if d["kind"] not in ("Deployment", "Job"):
            continue
        pod = d["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        for c in pod["containers"]:
            assert pinned(c["image"]), c["image"]
    api = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "casegrid-api")
    c = api["spec"]["template"]["spec"]["containers"][0]
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    city = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "casegrid-city")
    assert yaml.safe_load(city["data"]["city.yaml"])  # a city file that parses
    readme = (K8S / "README.md").read_text(encoding="utf-8")
    assert "StatefulSet" in readme and "managed" in readme


@pytest.mark.skipif(not shutil.which("kubectl"), reason="kubectl not installed")
def test_the_kustomization_renders():
    out = subprocess.run(["kubectl", "kustomize", str(K8S)], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    assert out.count("kind: Deployment") == 9 and out.count("kind: Job") == 1


def test_the_dockerfile_runs_as_a_user_on_a_pinned_python():
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    base = re.search(r"^FROM (\S+)", text, re.M).group(1)
    assert base.startswith("python:3.11") and pinned(base)
    assert re.search(r"^USER 10001", text, re.M) and "pip install" in text
    assert 'ENTRYPOINT ["casegrid"]' in text


def test_k8s_runs_what_compose_runs():
    """One workload per casegrid service of compose.yaml, with the same command (the k8s
    API adds its own port and credentials path; Kafka has its cluster name)."""
    from tests.integration.compose_support import interpolate, read_env_file

    example = read_env_file(DEPLOY / ".env.example")
    services = interpolate(compose()["services"], {k: v or "set" for k, v in example.items()})
    workloads = {d["metadata"]["name"]: d for d in k8s_docs() if d["kind"] in ("Deployment", "Job")}
    for name, s in services.items():
        if not s.get("build"):
            continue
        w = workloads.get(f"casegrid-{name}")
        assert w is not None, f"compose service {name} has no k8s workload casegrid-{name}"
        args = w["spec"]["template"]["spec"]["containers"][0]["args"]
        if name == "api":
            assert args[0] == "serve" and "--tick-every" in args
            continue
        assert [a.replace("kafka.casegrid.svc.cluster.local", "kafka") for a in args] == s["command"], name
        env = {e["name"] for e in w["spec"]["template"]["spec"]["containers"][0].get("env", [])}
        wanted = set(s.get("environment", {})) - {"POSTGRES_PASSWORD"}
        if name == "migrate":  # the schema steps touch no photo
            wanted = {k for k in wanted if not k.startswith("CASEGRID_EVIDENCE_S3_")}
        assert wanted <= env | set(configmap_env()), (name, wanted - env - set(configmap_env()))


def configmap_env() -> dict:
    return next(d for d in k8s_docs() if d["kind"] == "ConfigMap"
                and d["metadata"]["name"] == "casegrid-env")["data"]
