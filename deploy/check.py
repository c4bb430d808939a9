"""Offline checks of everything under deploy/ (``make deploy-check``; no Docker, no cluster).

- Kubernetes manifests (deploy/k8s/**/*.yaml): every object against the Kubernetes JSON schemas
  bundled in ``kubernetes-validate`` (strict: unknown fields fail), for the oldest version the
  manifests need and the newest the package knows; then the rules of this deployment: each
  workload has a Service, an autoscaling/v2 HPA, gRPC readiness and liveness probes on a
  declared port, requests and limits, defined ``$(VAR)``s and existing ConfigMaps and PVCs; the
  concept tier asks for a GPU; a workload that writes a volume has one replica and HPA max 1.
- deploy/docker-compose.yml: parses, builds from existing Dockerfiles, health-checks every
  service with a command its image carries, declares its named volumes.
- deploy/Dockerfile.*: parsed with ``dockerfile-parse``; every COPY source exists and passes
  .dockerignore; the project's packages are all copied; the tier's requirement list is
  installed, the project itself with --no-deps; non-root numeric USER; HEALTHCHECK; the torch
  pin equals the Makefile's.

Prints one line per problem and exits 1 when there is any.
"""

from __future__ import annotations

import fnmatch
import io
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import tomllib
import yaml
from dockerfile_parse import DockerfileParser

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"
K8S = DEPLOY / "k8s"
# ReadWriteOncePod (1.29) and gRPC probes (1.27) are GA from here on.
K8S_VERSIONS = ("1.29.0", kubernetes_validate.utils.latest_version())
# Created by the operator (deploy/README.md), never committed.
OPERATOR_SECRETS = {"fitrep-auth"}
# The module a Dockerfile runs -> the requirement list that tier installs.
TIER_REQUIREMENTS = {
    "mllm_server": "deploy/requirements/concept.txt",
    "index_server": "deploy/requirements/index.txt",
}
WORKLOADS = ("Deployment", "StatefulSet")

problems: list[str] = []


def problem(where: str, text: str) -> None:
    problems.append(f"{where}: {text}")


def rel(path: Path) -> str:
    return str(path.relative_to(REPO))


# ---------------------------------------------------------------- Kubernetes


def load_manifests(files: list[Path]) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for path in files:
        try:
            docs = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
        except yaml.YAMLError as exc:
            problem(rel(path), f"not YAML: {exc}")
            continue
        for i, doc in enumerate(d for d in docs if d is not None):
            where = f"{rel(path)}#{i + 1}"
            if not isinstance(doc, dict) or not {"apiVersion", "kind", "metadata"} <= doc.keys():
                problem(where, "not a Kubernetes object (apiVersion, kind, metadata)")
                continue
            out.append((where, doc))
    return out


def validate_schemas(objects: list[tuple[str, dict[str, Any]]]) -> None:
    for where, obj in objects:
        for version in K8S_VERSIONS:
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                path = ".".join(str(p) for p in exc.path)
                problem(
                    where, f"{obj['kind']} invalid for Kubernetes {version}: {path}: {exc.message}"
                )
            except kubernetes_validate.utils.SchemaNotFoundError:
                problem(where, f"no schema for {obj['apiVersion']} {obj['kind']} in {version}")


def name(obj: dict[str, Any]) -> str:
    return str(obj["metadata"]["name"])


def matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def probe_port(container: dict[str, Any], kind: str) -> int | str | None:
    probe = container.get(kind) or {}
    return probe.get("grpc", {}).get("port")


def check_workload(
    where: str, obj: dict[str, Any], by_kind: dict[str, dict[str, dict[str, Any]]]
) -> None:
    kind, wname = obj["kind"], name(obj)
    spec = obj["spec"]
    pod = spec["template"]
    labels = pod["metadata"].get("labels", {})
    if not matches(spec["selector"].get("matchLabels", {}), labels):
        problem(where, f"{kind} {wname}: selector does not match the pod labels")
    config_keys: dict[str, set[str]] = {
        n: set((cm.get("data") or {}).keys()) for n, cm in by_kind.get("ConfigMap", {}).items()
    }
    volumes = {v["name"]: v for v in pod["spec"].get("volumes", [])}
    writes_volume = False
    for container in pod["spec"]["containers"]:
        cname = f"{kind} {wname} container {container['name']}"
        ports = {p["containerPort"]: p.get("name") for p in container.get("ports", [])}
        for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
            port = probe_port(container, probe)
            if port is None:
                if probe != "startupProbe" or probe in container:
                    problem(where, f"{cname}: no gRPC {probe}")
            elif port not in ports:
                problem(where, f"{cname}: {probe} port {port} is not a containerPort")
        resources = container.get("resources", {})
        for part in ("requests", "limits"):
            for res in ("cpu", "memory"):
                if res not in resources.get(part, {}):
                    problem(where, f"{cname}: no {res} in resources.{part}")
        defined = {e["name"] for e in container.get("env", [])}
        for source in container.get("envFrom", []):
            ref = source.get("configMapRef", {}).get("name")
            if ref is not None:
                if ref not in config_keys:
                    problem(where, f"{cname}: ConfigMap {ref} is not in deploy/k8s")
                defined |= config_keys.get(ref, set())
        for env in container.get("env", []):
            secret = env.get("valueFrom", {}).get("secretKeyRef", {}).get("name")
            if secret is not None and secret not in OPERATOR_SECRETS | set(
                by_kind.get("Secret", {})
            ):
                problem(where, f"{cname}: Secret {secret} is neither shipped nor documented")
        for arg in [*container.get("command", []), *container.get("args", [])]:
            for var in re.findall(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", str(arg)):
                if var not in defined:
                    problem(where, f"{cname}: $({var}) in args is not defined in its env")
        for mount in container.get("volumeMounts", []):
            if mount["name"] not in volumes:
                problem(where, f"{cname}: mounts undeclared volume {mount['name']}")
            else:
                claim = volumes[mount["name"]].get("persistentVolumeClaim")
                if claim and not mount.get("readOnly"):
                    writes_volume = True
    for vol in volumes.values():
        claim = vol.get("persistentVolumeClaim")
        if claim and claim["claimName"] not in by_kind.get("PersistentVolumeClaim", {}):
            problem(where, f"{kind} {wname}: PVC {claim['claimName']} is not in deploy/k8s")
    services = [
        s for s in by_kind.get("Service", {}).values() if matches(s["spec"]["selector"], labels)
    ]
    if not services:
        problem(where, f"{kind} {wname}: no Service selects its pods")
    hpas = [
        h
        for h in by_kind.get("HorizontalPodAutoscaler", {}).values()
        if h["spec"]["scaleTargetRef"]["kind"] == kind
        and h["spec"]["scaleTargetRef"]["name"] == wname
    ]
    if len(hpas) != 1:
        problem(where, f"{kind} {wname}: {len(hpas)} HorizontalPodAutoscalers, want 1")
    elif not hpas[0]["apiVersion"].startswith("autoscaling/v2"):
        problem(where, f"{kind} {wname}: HPA is not autoscaling/v2")
    if writes_volume:  # one writer per data directory
        if spec.get("replicas", 1) != 1 or (hpas and hpas[0]["spec"]["maxReplicas"] != 1):
            problem(where, f"{kind} {wname} writes a volume: replicas and HPA max must be 1")
        if kind == "Deployment" and spec.get("strategy", {}).get("type") != "Recreate":
            problem(where, f"Deployment {wname} writes a volume: strategy must be Recreate")
    if labels.get("app.kubernetes.io/component") == "concept":
        for container in pod["spec"]["containers"]:
            res = container.get("resources", {})
            gpus = res.get("limits", {}).get("nvidia.com/gpu")
            if not gpus or res.get("requests", {}).get("nvidia.com/gpu", gpus) != gpus:
                problem(where, f"{kind} {wname}: concept tier must request nvidia.com/gpu")


def check_kubernetes() -> int:
    files = sorted(K8S.rglob("*.yaml"))
    if not files:
        problem(rel(K8S), "no manifests")
        return 0
    objects = load_manifests(files)
    validate_schemas(objects)
    # `kubectl apply -f deploy/k8s/` takes the top-level files; sub-folders are alternatives
    # applied on top (same kind and name replaces the object).
    base = [(w, o) for w, o in objects if Path(w.split("#")[0]).parent == K8S.relative_to(REPO)]
    by_kind: dict[str, dict[str, dict[str, Any]]] = {}
    for where, obj in base:
        if name(obj) in by_kind.setdefault(obj["kind"], {}):
            problem(where, f"{obj['kind']} {name(obj)} defined twice")
        by_kind[obj["kind"]][name(obj)] = obj
    for where, obj in base:
        if obj["kind"] in WORKLOADS:
            check_workload(where, obj, by_kind)
    for kind in WORKLOADS:
        if kind == "Deployment" and not by_kind.get(kind):
            problem(rel(K8S), "no Deployment")
    for where, obj in objects:
        if obj["kind"] == "HorizontalPodAutoscaler":
            ref = obj["spec"]["scaleTargetRef"]
            if ref["name"] not in by_kind.get(ref["kind"], {}):
                problem(where, f"HPA {name(obj)} targets missing {ref['kind']} {ref['name']}")
    return len(objects)


# ---------------------------------------------------------------- Dockerfiles


def dockerignore_allows(source: str) -> bool:
    """Docker's rule: the last matching pattern wins, ``!`` re-includes."""
    path = DEPLOY.parent / ".dockerignore"
    if not path.exists():
        return True
    allowed = True
    parts = Path(source).parts
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = line.lstrip("!").strip("/")
        if any(fnmatch.fnmatch(p, pattern) for p in prefixes):
            allowed = negate
    return allowed


def project_package_dirs() -> set[str]:
    """Top-level folders ``pip install .`` needs (the packages pyproject's find includes, mapped
    through its package-dir)."""
    setup = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
        "setuptools"
    ]
    package_dir = setup.get("package-dir", {})
    found = setup.get("packages", {}).get("find", {}).get("include", [])
    tops = set()
    for package in found:
        top = package.split(".")[0]
        tops.add(package_dir.get(top, top).split("/")[0])
    return tops


def makefile_torch() -> str | None:
    match = re.search(r"^TORCH\s*\?=\s*(\S+)", (REPO / "Makefile").read_text(), re.M)
    return match[1] if match else None


def copies(structure: list[dict[str, Any]]) -> Iterator[tuple[list[str], str]]:
    for ins in structure:
        if ins["instruction"] in ("COPY", "ADD"):
            words = [w for w in ins["value"].split() if not w.startswith("--")]
            if not any(w.startswith("--from") for w in ins["value"].split()):
                yield words[:-1], words[-1]


def check_dockerfile(path: Path) -> dict[str, Any]:
    where = rel(path)
    parsed = DockerfileParser(fileobj=io.BytesIO(path.read_bytes())).structure
    structure = [i for i in parsed if i["instruction"] != "COMMENT"]
    instructions = [i["instruction"] for i in structure]
    if not instructions or instructions[0] not in ("FROM", "ARG") or "FROM" not in instructions:
        problem(where, "does not start with FROM (after ARGs)")
    copied: dict[str, str] = {}
    for sources, dest in copies(structure):
        for src in sources:
            if not (REPO / src).exists():
                problem(where, f"COPY source {src} does not exist")
            elif not dockerignore_allows(src):
                problem(where, f"COPY source {src} is excluded by .dockerignore")
            copied[src.rstrip("/")] = dest
    runs = " ".join(i["value"] for i in structure if i["instruction"] == "RUN")
    entry = next((i["value"] for i in structure if i["instruction"] == "ENTRYPOINT"), "")
    module = re.search(r'"-m",\s*"(\w+)"', entry)
    if not entry.startswith("["):
        problem(where, "ENTRYPOINT is not in exec form (signals would not reach the server)")
    if module is None or module[1] not in TIER_REQUIREMENTS:
        problem(where, f"ENTRYPOINT runs none of {sorted(TIER_REQUIREMENTS)}")
    else:
        want = TIER_REQUIREMENTS[module[1]]
        lists = sorted(s for s in copied if s.startswith("deploy/requirements/"))
        if lists != [want]:
            problem(where, f"copies {lists or 'no requirement list'}, want [{want}]")
        elif not re.search(rf"-r\s+{re.escape(copied[want])}(\s|$)", runs):
            problem(where, f"never runs pip install -r {copied[want]} ({want})")
    if not re.search(r"pip install[^&;]*--no-deps[^&;]*\s\.(\s|$)", runs):
        problem(where, "the project is not installed with `pip install --no-deps .`")
    for top in sorted(project_package_dirs() - copied.keys()):
        problem(where, f"does not copy {top}/, which `pip install .` builds")
    users = [i["value"].strip() for i in structure if i["instruction"] == "USER"]
    if not users or not users[-1].isdigit() or users[-1] == "0":
        problem(where, "last USER is not a numeric non-root uid (runAsNonRoot cannot check it)")
    health = next((i["value"] for i in structure if i["instruction"] == "HEALTHCHECK"), None)
    if health is None:
        problem(where, "no HEALTHCHECK")
    torch_arg = re.search(
        r"^TORCH=(\S+)$", " ".join(i["value"] for i in structure if i["instruction"] == "ARG"), re.M
    )
    if torch_arg and torch_arg[1] != makefile_torch():
        problem(where, f"ARG TORCH={torch_arg[1]} but the Makefile pins {makefile_torch()}")
    return {"copied_to": set(copied.values()), "module": module[1] if module else None}


# ---------------------------------------------------------------- docker compose

COMPOSE_KEYS = {"name", "services", "volumes", "networks", "configs", "secrets", "version"}


def check_compose(path: Path, dockerfiles: dict[Path, dict[str, Any]]) -> int:
    where = rel(path)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        problem(where, f"not YAML: {exc}")
        return 0
    if not isinstance(doc, dict) or not isinstance(doc.get("services"), dict):
        problem(where, "no services mapping")
        return 0
    for key in doc:
        if key not in COMPOSE_KEYS and not key.startswith("x-"):
            problem(where, f"unknown top-level key {key}")
    declared = set(doc.get("volumes") or {})
    for sname, svc in doc["services"].items():
        here = f"{where}: service {sname}"
        build = svc.get("build")
        info: dict[str, Any] = {}
        if not isinstance(build, dict):
            problem(here, "no build: {context, dockerfile}")
        else:
            context = (path.parent / build.get("context", ".")).resolve()
            dockerfile = context / build.get("dockerfile", "Dockerfile")
            if not dockerfile.is_file():
                problem(here, f"Dockerfile {dockerfile} does not exist")
            info = dockerfiles.get(dockerfile, {})
        test = (svc.get("healthcheck") or {}).get("test")
        if not isinstance(test, list) or test[:1] not in (["CMD"], ["CMD-SHELL"]):
            problem(here, "no healthcheck test [CMD, ...]")
        else:
            tools = [w for w in test[1:] if w.startswith("/")]
            for tool in tools:
                if info and tool not in info["copied_to"]:
                    problem(here, f"healthcheck runs {tool}, which its Dockerfile never copies")
        for port in svc.get("ports", []):
            if not re.fullmatch(r"(\d+\.\d+\.\d+\.\d+:)?\d+:\d+(/tcp|/udp)?", str(port)):
                problem(here, f"port {port!r} is not [IP:]HOST:CONTAINER")
        for volume in svc.get("volumes", []):
            source = str(volume).split(":")[0]
            if not source.startswith((".", "/", "~")) and source not in declared:
                problem(here, f"named volume {source} is not declared under volumes:")
        env = svc.get("environment", {})
        if not isinstance(env, dict | list):
            problem(here, "environment is neither a mapping nor a list")
    return len(doc["services"])


def main() -> int:
    start = time.perf_counter()
    n_objects = check_kubernetes()
    dockerfiles = {p: check_dockerfile(p) for p in sorted(DEPLOY.glob("Dockerfile.*"))}
    compose = DEPLOY / "docker-compose.yml"
    n_services = check_compose(compose, dockerfiles) if compose.exists() else 0
    if not compose.exists():
        problem(rel(compose), "missing")
    took = time.perf_counter() - start
    for line in problems:
        print(line)
    print(
        f"deploy-check: {n_objects} Kubernetes objects (schemas {', '.join(K8S_VERSIONS)}), "
        f"{len(dockerfiles)} Dockerfiles, {n_services} compose services: "
        f"{len(problems)} problem(s) in {took:.1f} s"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
