#!/usr/bin/env python3
"""Static check of docker-compose.yml (no Docker engine needed).

Asserts what users rely on: Apache Kafka in KRaft mode (no ZooKeeper) reachable from the host on
localhost:9092, and a one-shot service that waits for a healthy broker and creates both topics with
3 partitions. Exits non-zero with one line per problem.
"""
import re
import sys

try:
    import yaml
except ImportError:  # pragma: no cover - only on a machine without PyYAML
    import subprocess

    subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet", "pyyaml"])
    import yaml

TOPICS = ["user-activity-events", "user-activity-events.dlq"]


def check(doc):
    problems = []
    services = doc.get("services") or {}
    if any("zookeeper" in name or "zookeeper" in str(s.get("image", "")) for name, s in services.items()):
        problems.append("a ZooKeeper service is present; the broker must run in KRaft mode")
    kafka = services.get("kafka")
    if not kafka:
        return problems + ["no 'kafka' service"]
    if not str(kafka.get("image", "")).startswith("apache/kafka:"):
        problems.append("kafka image must be apache/kafka:<version>")
    if "9092:9092" not in [str(p) for p in kafka.get("ports", [])]:
        problems.append("kafka must publish 9092:9092")
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

    init = [s for n, s in services.items() if n != "kafka" and "kafka-topics" in str(s.get("command", ""))]
    if len(init) != 1:
        return problems + ["exactly one one-shot service must create the topics with kafka-topics.sh"]
    init = init[0]
    cond = ((init.get("depends_on") or {}).get("kafka") or {}).get("condition")
    if cond != "service_healthy":
        problems.append("the topic service must depend on kafka with condition service_healthy")
    script = str(init.get("command"))
    for topic in TOPICS:
        if topic not in script:
            problems.append(f"topic {topic} is not created")
    if "--partitions 3" not in script or "--if-not-exists" not in script:
        problems.append("topics must be created with --partitions 3 and --if-not-exists")
    return problems


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "docker-compose.yml"
    with open(path, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    problems = check(doc)
    for p in problems:
        print(f"{path}: {p}", file=sys.stderr)
    if problems:
        sys.exit(1)
    print(f"{path}: ok (KRaft kafka on localhost:9092, topics {', '.join(TOPICS)})")


if __name__ == "__main__":
    main()
