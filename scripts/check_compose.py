#!/usr/bin/env python3
"""Static check of docker-compose.yml (no Docker engine needed).

Asserts what users rely on: Apache Kafka in KRaft mode (no ZooKeeper) reachable from the host on
localhost:9092, and a one-shot service that waits for a healthy broker and creates both topics with
3 partitions; behind the profile `app`, events-api and events-consumer built from targets the
Dockerfile has, each with a healthcheck that runs its binary's --health-check, waiting for a
healthy broker and for the topics, on the compose network's listener, sharing one store volume.
Exits non-zero with one line per problem.

It then checks itself: copies of the file broken one way each (a profile, a healthcheck, a
condition, a build target, the broker's roles) must each be refused.
"""
import copy
import os
import re
import sys

try:
    import yaml
except ImportError:  # pragma: no cover - only on a machine without PyYAML
    import subprocess

    subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet", "pyyaml"])
    import yaml

TOPICS = ["user-activity-events", "user-activity-events.dlq"]
# The services of the profile `app`: each one's Dockerfile target and binary.
APP = {"events-api": "events-api", "events-consumer": "events-consumer"}


def dockerfile_stages(path):
    """The stage names of a Dockerfile (`FROM image AS name`)."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError:
        return None
    return set(re.findall(r"^FROM\s+\S+\s+AS\s+(\S+)\s*$", text, flags=re.MULTILINE | re.IGNORECASE))


def check_app(services, init_name, base_dir):
    problems = []
    for name in ["kafka", init_name]:
        if name and (services.get(name) or {}).get("profiles"):
            problems.append(f"{name} must have no profile, so that `docker compose up` starts it")
    volumes = {}
    for name, target in APP.items():
        svc = services.get(name)
        if not svc:
            problems.append(f"no '{name}' service")
            continue
        if "app" not in (svc.get("profiles") or []):
            problems.append(f"{name} must be in the profile app")
        build = svc.get("build") or {}
        if not isinstance(build, dict) or build.get("target") != target:
            problems.append(f"{name} must build the Dockerfile target {target}")
        else:
            # Relative to the compose file; for a copy elsewhere (a test's broken copy), to here.
            relative = os.path.join(build.get("context", "."), build.get("dockerfile", "Dockerfile"))
            dockerfile = next((os.path.join(d, relative) for d in [base_dir, os.getcwd()]
                               if os.path.isfile(os.path.join(d, relative))), relative)
            stages = dockerfile_stages(dockerfile)
            if stages is None:
                problems.append(f"{name}: cannot read {dockerfile}")
            elif target not in stages:
                problems.append(f"{name}: {dockerfile} has no stage {target}")
        test = (svc.get("healthcheck") or {}).get("test") or []
        test = test if isinstance(test, list) else [str(test)]
        if not any(target in str(t) for t in test) or "--health-check" not in test:
            problems.append(f"{name} needs a healthcheck running its binary's --health-check")
        depends = svc.get("depends_on") or {}
        if not isinstance(depends, dict) or (depends.get("kafka") or {}).get("condition") != "service_healthy":
            problems.append(f"{name} must depend on kafka with condition service_healthy")
        if not isinstance(depends, dict) or (depends.get(init_name) or {}).get("condition") != "service_completed_successfully":
            problems.append(f"{name} must depend on {init_name} with condition service_completed_successfully")
        env = {k: str(v) for k, v in (svc.get("environment") or {}).items()}
        if env.get("KAFKA_BROKERS") != "kafka:19092":
            problems.append(f"{name} must reach the broker on the compose network: KAFKA_BROKERS=kafka:19092")
        if not env.get("STORE_URL", "").startswith("sqlite:///data/"):
            problems.append(f"{name} must keep its SQLite store under /data")
        mounts = [str(v) for v in (svc.get("volumes") or [])]
        volumes[name] = {m.split(":")[0] for m in mounts if m.split(":")[1:2] == ["/data"]}
    shared = set.intersection(*volumes.values()) if len(volumes) == len(APP) else set()
    if len(volumes) == len(APP) and not shared:
        problems.append("events-api and events-consumer must mount the same volume on /data (one store)")
    if "CONSUMER_HEALTH_ADDR" not in str((services.get("events-consumer") or {}).get("environment")):
        problems.append("events-consumer needs CONSUMER_HEALTH_ADDR for its healthcheck")
    if not (services.get("events-api") or {}).get("ports"):
        problems.append("events-api must publish its port")
    return problems


def loopback_only(services):
    """Every published port binds 127.0.0.1: the broker is plaintext and unauthenticated, and
    the API runs without sign-in."""
    problems = []
    for name, svc in services.items():
        for port in (svc or {}).get("ports") or []:
            if not str(port).startswith("127.0.0.1:"):
                problems.append(f"{name} publishes {port} on every interface; bind it to 127.0.0.1")
    return problems


def check(doc, base_dir="."):
    problems = []
    services = doc.get("services") or {}
    if any("zookeeper" in name or "zookeeper" in str(s.get("image", "")) for name, s in services.items()):
        problems.append("a ZooKeeper service is present; the broker must run in KRaft mode")
    kafka = services.get("kafka")
    if not kafka:
        return problems + ["no 'kafka' service"]
    if not str(kafka.get("image", "")).startswith("apache/kafka:"):
        problems.append("kafka image must be apache/kafka:<version>")
    if "127.0.0.1:9092:9092" not in [str(p) for p in kafka.get("ports", [])]:
        problems.append("kafka must publish 127.0.0.1:9092:9092")
    problems += loopback_only(services)
    env = {k: str(v) for k, v in (kafka.get("environment") or {}).items()}
    roles = set(env.get("KAFKA_PROCESS_ROLES", "").split(","))
    if roles != {"broker", "controller"}:
        problems.append("KAFKA_PROCESS_ROLES must be broker,controller (KRaft combined mode)")
    for key in ["KAFKA_NODE_ID", "KAFKA_CONTROLLER_QUORUM_VOTERS", "KAFKA_CONTROLLER_LISTENER_NAMES", "CLUSTER_ID"]:
        if key not in env:
            problems.append(f"kafka environment lacks {key}")
    advertised = env.get("KAFKA_ADVERTISED_LISTENERS", "")
    if not re.search(r"//(localhost|127\.0\.0\.1):9092\b", advertised):
        problems.append("KAFKA_ADVERTISED_LISTENERS must advertise localhost:9092 to the host")
    listener_names = {l.split("://")[0] for l in env.get("KAFKA_LISTENERS", "").split(",") if l}
    protocol_map = {p.split(":")[0] for p in env.get("KAFKA_LISTENER_SECURITY_PROTOCOL_MAP", "").split(",") if p}
    if not listener_names or not listener_names <= protocol_map:
        problems.append("every listener needs an entry in KAFKA_LISTENER_SECURITY_PROTOCOL_MAP")
    if env.get("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR") != "1":
        problems.append("a single broker needs KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR=1 for consumer groups")
    if not kafka.get("healthcheck"):
        problems.append("kafka needs a healthcheck so kafka-init can wait for it")

    inits = [(n, s) for n, s in services.items() if n != "kafka" and "kafka-topics" in str(s.get("command", ""))]
    if len(inits) != 1:
        return problems + ["exactly one one-shot service must create the topics with kafka-topics.sh"]
    init_name, init = inits[0]
    cond = ((init.get("depends_on") or {}).get("kafka") or {}).get("condition")
    if cond != "service_healthy":
        problems.append("the topic service must depend on kafka with condition service_healthy")
    script = str(init.get("command"))
    for topic in TOPICS:
        if topic not in script:
            problems.append(f"topic {topic} is not created")
    if "--partitions 3" not in script or "--if-not-exists" not in script:
        problems.append("topics must be created with --partitions 3 and --if-not-exists")
    return problems + check_app(services, init_name, base_dir)


def broken_copies(doc):
    """(what was broken, a copy broken that way), each of which check() must refuse."""
    def mutate(what, change):
        d = copy.deepcopy(doc)
        change(d["services"])
        return what, d

    return [
        mutate("the broker without the controller role",
               lambda s: s["kafka"]["environment"].update(KAFKA_PROCESS_ROLES="broker")),
        mutate("events-api outside the profile app", lambda s: s["events-api"].pop("profiles")),
        mutate("the consumer without a healthcheck", lambda s: s["events-consumer"].pop("healthcheck")),
        mutate("the consumer started before the topics exist",
               lambda s: s["events-consumer"]["depends_on"].pop("kafka-init")),
        mutate("events-api waiting only for kafka to start",
               lambda s: s["events-api"]["depends_on"]["kafka"].update(condition="service_started")),
        mutate("a build target the Dockerfile lacks",
               lambda s: s["events-consumer"]["build"].update(target="events-consumr")),
        mutate("the consumer on the host's listener",
               lambda s: s["events-consumer"]["environment"].update(KAFKA_BROKERS="localhost:9092")),
        mutate("two stores", lambda s: s["events-consumer"].update(volumes=["other:/data"])),
        mutate("the plaintext broker on every interface",
               lambda s: s["kafka"].update(ports=["9092:9092"])),
        mutate("the anonymous API on every interface",
               lambda s: s["events-api"].update(ports=["3000:3000"])),
    ]


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "docker-compose.yml"
    with open(path, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    base_dir = os.path.dirname(os.path.abspath(path))
    problems = check(doc, base_dir)
    for p in problems:
        print(f"{path}: {p}", file=sys.stderr)
    if problems:
        sys.exit(1)
    accepted = [what for what, broken in broken_copies(doc) if not check(broken, base_dir)]
    for what in accepted:
        print(f"{path}: the check accepted a copy with {what}", file=sys.stderr)
    if accepted:
        sys.exit(1)
    print(f"{path}: ok (KRaft kafka on localhost:9092, topics {', '.join(TOPICS)}; "
          f"profile app: {', '.join(APP)}; {len(broken_copies(doc))} broken copies refused)")


if __name__ == "__main__":
    main()
