"""The PLAINTEXT listener, for OpenFoundry's binaries whose Kafka client speaks nothing else (their contracts say
which: data/upstream/binaries/, `kafka.security: plaintext`), and what Kafka lets an unauthenticated client do.

Kafka names every client of a listener without authentication `User:ANONYMOUS`, so the listener cannot tell those
binaries apart; the narrowest Kafka allows is:
- only their pods may open the listener (its networkPolicyPeers, which Strimzi writes into the brokers' policy);
- ANONYMOUS holds exactly the union of the ACLs the topic registry grants them (data/topics.yaml), nothing more;
- the exception is written on the Kafka resource (`UNAUTHENTICATED_LISTENERS`), where the policy pack's
  kafka-listeners-authenticated check reads it and accepts the one listener it names, and only with peers.
Strimzi's User Operator manages ACLs of KafkaUsers only, and its periodic reconciliation deletes the ACLs of any
other principal, ANONYMOUS included (strimzi/strimzi-kafka-operator@1.2.0 user-operator UserController.java:269-289,
SimpleAclOperator.java:314-342), unless told to ignore it (STRIMZI_IGNORED_USERS_PATTERN, set through the entity
operator's container template, which the Cluster Operator passes on: cluster-operator ContainerUtils.java:219-239).
A Job then reconciles ANONYMOUS's bindings with kafka-acls.sh as the steward, a SCRAM principal whose one ACL lets
it alter ACLs (Kafka's CreateAcls/DeleteAcls need Alter on the cluster). Residual risk, written down in
docs/ingestion.md: the four binaries share one identity, and the steward's credential can grant anything.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.cluster.trust import CA_FILE, ca_mount, ca_volume
from components.common.credentials import GeneratedPassword
from components.common.kube import custom_resource, secret_env
from components.common.security import restricted_container, restricted_pod
from components.ingestion.clients import CLUSTER, PLAIN_PORT, PLANE, TLS_PORT, KafkaClient, bootstrap_servers, broker_peer
from foundry.labels import BUSES_LABEL, common_labels, selector_labels
from foundry.topics import Grant, Topic, grants_for
from foundry.versions import STRIMZI_KAFKA_IMAGE

STRIMZI_API = "kafka.strimzi.io/v1"
KAFKA_IMAGE_USER = 1001   # the user Strimzi's Kafka image runs as (its Dockerfile's USER)

LISTENER = "plain"
IGNORED_USERS = "^ANONYMOUS$"
STEWARD = "anonymous-acl-steward"
STEWARD_SECRET = f"kafka-user-{STEWARD}"   # the clients' password Secrets' naming (clients.py)
REPAIR = "anonymous-acls-repair"
REPAIR_SCHEDULE = "*/30 * * * *"
WAIT_TRIES = 80      # a quarter of an hour for the brokers and the steward's credential, fifteen seconds apart
# The annotation on the Kafka resource naming the listeners allowed without authentication (the policy pack reads it).
UNAUTHENTICATED_LISTENERS = "policy.openfoundry.dev/unauthenticated-listeners"
STEWARD_ACLS = [{"resource": {"type": "cluster"}, "operations": ["Alter", "Describe"]}]
STEWARD_EXEMPTION = {"policy.openfoundry.dev/exempt": "kafka-no-wildcard-acls",
                     "policy.openfoundry.dev/exempt-reason": "Kafka lets only a principal with Alter on the cluster "
                     "create or delete ACLs; the steward's Job keeps ANONYMOUS's bindings (the PLAINTEXT listener)"}

# `wanted`: one binding a line, <topic|group> <literal|prefixed> <name> <Operation>. `grouped`: the same bindings as
# few kafka-acls.sh calls as they allow (a call adds every operation it names to every resource it names): one line
# a call, <topic|group> <literal|prefixed> <Operation,...> <name> <name>... Adding an existing binding changes
# nothing; then ANONYMOUS's bindings are listed and every one not wanted is removed.
RECONCILE = r"""set -eu
props=/tmp/steward.properties
{
  echo "security.protocol=SASL_SSL"
  echo "sasl.mechanism=SCRAM-SHA-512"
  printf 'sasl.jaas.config=%s required username="%s" password="%s";\n' \
    org.apache.kafka.common.security.scram.ScramLoginModule "$STEWARD_USER" "$STEWARD_PASSWORD"
  echo "ssl.truststore.type=PEM"
  echo "ssl.truststore.location=$CA_FILE"
} > "$props"
acls() { /opt/kafka/bin/kafka-acls.sh --bootstrap-server "$BOOTSTRAP" --command-config "$props" "$@" < /dev/null; }
# a new cluster: the brokers, then the User Operator's SCRAM credential for the steward, come up in their time
tries=0
until acls --list --principal User:ANONYMOUS > /tmp/listing 2> /tmp/listing.err; do
  tries=$((tries + 1))
  if [ "$tries" -ge "$WAIT_TRIES" ]; then cat /tmp/listing.err >&2; exit 1; fi
  echo "waiting for the brokers and the steward's credential ($tries/$WAIT_TRIES)"
  sleep 15
done
while read -r kind pattern operations names; do
  set --
  for operation in $(echo "$operations" | tr , ' '); do set -- "$@" --operation "$operation"; done
  for name in $names; do set -- "$@" "--$kind" "$name"; done
  acls --add --allow-principal User:ANONYMOUS --resource-pattern-type "$pattern" "$@" > /dev/null
done < /acls/grouped
acls --list --principal User:ANONYMOUS > /tmp/listing   # a failed listing fails the run (set -e), removes nothing
awk '
  /^Current ACLs for resource/ {
    match($0, /resourceType=[A-Z_]+/); kind = tolower(substr($0, RSTART + 13, RLENGTH - 13))
    match($0, /name=[^,]+/); name = substr($0, RSTART + 5, RLENGTH - 5)
    match($0, /patternType=[A-Z]+/); pattern = tolower(substr($0, RSTART + 12, RLENGTH - 12))
  }
  /principal=User:ANONYMOUS/ && /permissionType=ALLOW/ {
    match($0, /operation=[A-Z_]+/); op = substr($0, RSTART + 10, RLENGTH - 10)
    print kind, pattern, name, toupper(substr(op, 1, 1)) tolower(substr(op, 2))
  }' /tmp/listing > /tmp/current
grep -vxF -f /acls/wanted /tmp/current | while read -r kind pattern name operation; do
  acls --remove --force --allow-principal User:ANONYMOUS --operation "$operation" "--$kind" "$name" \
       --resource-pattern-type "$pattern" > /dev/null
  echo "removed: $kind $pattern $name $operation"
done
echo "ANONYMOUS holds $(wc -l < /acls/wanted) bindings"
"""


def anonymous_grants(services: Iterable[str], topics: Sequence[Topic],
                     groups: dict[str, tuple[str, ...]]) -> list[Grant]:
    """The union of what the registry grants the PLAINTEXT-only services, each grant once."""
    found: dict[tuple[str, str, str], Grant] = {}
    for service in services:
        for grant in grants_for(service, topics, groups.get(service, ())):
            key = (grant.resource, grant.pattern, grant.name)
            merged = found.get(key)
            operations = tuple(sorted({*grant.operations, *(merged.operations if merged else ())}))
            found[key] = Grant(grant.resource, grant.name, operations, grant.pattern)
    return [found[key] for key in sorted(found)]


def wanted_bindings(grants: Sequence[Grant]) -> str:
    """The Job's input: one binding a line, as kafka-acls.sh spells resource kinds and pattern types."""
    lines = {f"{g.resource} {'prefixed' if g.pattern == 'prefix' else 'literal'} {g.name} {operation}"
             for g in grants for operation in g.operations}
    return "".join(f"{line}\n" for line in sorted(lines))


def grouped_calls(grants: Sequence[Grant]) -> str:
    """The Job's adds: one kafka-acls.sh call per resource kind, pattern type and set of operations, naming every
    resource that wants exactly those (a call grants each operation on each resource it names)."""
    calls: dict[tuple[str, str, tuple[str, ...]], list[str]] = {}
    for grant in grants:
        pattern = "prefixed" if grant.pattern == "prefix" else "literal"
        calls.setdefault((grant.resource, pattern, tuple(sorted(grant.operations))), []).append(grant.name)
    return "".join(f"{kind} {pattern} {','.join(operations)} {' '.join(sorted(names))}\n"
                   for (kind, pattern, operations), names in sorted(calls.items()))


def job_name(wanted: str) -> str:
    """A new Job whenever the wanted bindings change (a Job's pod template cannot be changed in place)."""
    return f"anonymous-acls-{hashlib.sha256(wanted.encode()).hexdigest()[:10]}"


@dataclass(frozen=True)
class AnonymousAccessArgs:
    clients: Sequence[KafkaClient]    # the PLAINTEXT-only services: their pods open the listener, their grants go to ANONYMOUS
    topics: Sequence[Topic]
    namespace: str                    # the Kafka cluster's
    provider: k8s.Provider
    depends_on: Sequence[pulumi.Resource] = ()   # the namespace, the operator and the Kafka cluster


class AnonymousAccess(pulumi.ComponentResource):
    """The steward (a SCRAM KafkaUser that may alter ACLs), the wanted bindings, and the Job that makes ANONYMOUS hold
    exactly them; the Job runs again, under a new name, whenever the bindings change."""

    def __init__(self, name: str, args: AnonymousAccessArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("openfoundry:ingestion:AnonymousAccess", name, None, opts)
        self._args = args
        labels = common_labels(PLANE)
        grants = anonymous_grants([c.service for c in args.clients], args.topics,
                                  {c.service: c.groups for c in args.clients})
        wanted = wanted_bindings(grants)
        password = GeneratedPassword(f"kafka-{STEWARD}", opts=pulumi.ResourceOptions(parent=self))
        # not the KafkaUser's own name: the User Operator writes a Secret of that name, and would take this one over
        secret = k8s.core.v1.Secret(STEWARD, metadata=self._metadata(STEWARD_SECRET), type="Opaque",
                                    string_data={"password": password.value}, opts=self._child())
        user = custom_resource(STRIMZI_API, "KafkaUser", STEWARD, args.namespace, {**labels, "strimzi.io/cluster": CLUSTER}, {
            "authentication": {"type": "scram-sha-512", "password": {"valueFrom": {
                "secretKeyRef": {"name": STEWARD_SECRET, "key": "password"}}}},
            "authorization": {"type": "simple", "acls": STEWARD_ACLS},
        }, self._child(depends_on=[secret]), annotations=STEWARD_EXEMPTION)
        config = k8s.core.v1.ConfigMap(STEWARD, metadata=self._metadata(STEWARD), data={
            "wanted": wanted, "grouped": grouped_calls(grants), "reconcile.sh": RECONCILE}, opts=self._child())
        self._job(job_name(wanted), depends_on=[user, config])
        self._repair(depends_on=[user, config])
        self._network_policy()
        self.register_outputs({"bindings": len(wanted.splitlines())})

    def _job(self, name: str, depends_on: Sequence[pulumi.Resource]) -> None:
        """The run on each change of the bindings, which the services that rely on them wait for (Pulumi waits for a
        Job, and the services' planes depend on this one); a failed run is replaced at the next `up`."""
        k8s.batch.v1.Job(name, metadata=k8s.meta.v1.ObjectMetaArgs(
            name=name, namespace=self._args.namespace, labels=common_labels(PLANE),
            annotations={"pulumi.com/replaceUnready": "true"}), spec=k8s.batch.v1.JobSpecArgs(
            backoff_limit=2, template=self._pod_template(WAIT_TRIES)),
            opts=pulumi.ResourceOptions.merge(self._child(depends_on=depends_on),
                                              pulumi.ResourceOptions(custom_timeouts=pulumi.CustomTimeouts(create="25m"))))

    def _repair(self, depends_on: Sequence[pulumi.Resource]) -> None:
        """The same run every half hour: ANONYMOUS's bindings come back after a rebuilt cluster or a hand's change."""
        k8s.batch.v1.CronJob(REPAIR, metadata=self._metadata(REPAIR), spec=k8s.batch.v1.CronJobSpecArgs(
            schedule=REPAIR_SCHEDULE, concurrency_policy="Forbid", successful_jobs_history_limit=1,
            failed_jobs_history_limit=3, job_template=k8s.batch.v1.JobTemplateSpecArgs(spec=k8s.batch.v1.JobSpecArgs(
                backoff_limit=1, active_deadline_seconds=900, template=self._pod_template(4)))),
            opts=self._child(depends_on=depends_on))

    def _pod_template(self, wait_tries: int) -> k8s.core.v1.PodTemplateSpecArgs:
        env = [k8s.core.v1.EnvVarArgs(name="BOOTSTRAP", value=bootstrap_servers()),
               k8s.core.v1.EnvVarArgs(name="STEWARD_USER", value=STEWARD),
               secret_env("STEWARD_PASSWORD", STEWARD_SECRET, "password"),
               k8s.core.v1.EnvVarArgs(name="CA_FILE", value=CA_FILE),
               k8s.core.v1.EnvVarArgs(name="WAIT_TRIES", value=str(wait_tries)),
               # kafka-run-class.sh creates its log directory: on the writable /tmp, the root file system is read-only
               k8s.core.v1.EnvVarArgs(name="LOG_DIR", value="/tmp/logs")]
        return k8s.core.v1.PodTemplateSpecArgs(
            metadata=k8s.meta.v1.ObjectMetaArgs(labels={**common_labels(PLANE), **selector_labels(STEWARD),
                                                        BUSES_LABEL: "data"}),
            spec=k8s.core.v1.PodSpecArgs(
                restart_policy="OnFailure", automount_service_account_token=False,
                security_context=restricted_pod(KAFKA_IMAGE_USER),
                containers=[k8s.core.v1.ContainerArgs(
                    name="reconcile", image=STRIMZI_KAFKA_IMAGE, image_pull_policy="IfNotPresent",
                    command=["sh", "/acls/reconcile.sh"], env=env,
                    resources=k8s.core.v1.ResourceRequirementsArgs(
                        requests={"cpu": "100m", "memory": "256Mi"}, limits={"memory": "512Mi"}),
                    security_context=restricted_container(),
                    volume_mounts=[k8s.core.v1.VolumeMountArgs(name="acls", mount_path="/acls", read_only=True),
                                   k8s.core.v1.VolumeMountArgs(name="tmp", mount_path="/tmp"), ca_mount()])],
                volumes=[k8s.core.v1.VolumeArgs(name="acls", config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(name=STEWARD)),
                         k8s.core.v1.VolumeArgs(name="tmp", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(
                             size_limit="64Mi")), ca_volume()],
            ),
        )

    def _network_policy(self) -> None:
        """The Job's pods reach the brokers' TLS listener, nothing else (DNS: the namespace's own policy)."""
        k8s.networking.v1.NetworkPolicy(STEWARD, metadata=self._metadata(STEWARD), spec=k8s.networking.v1.NetworkPolicySpecArgs(
            pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector_labels(STEWARD)),
            policy_types=["Ingress", "Egress"], ingress=[],
            egress=[k8s.networking.v1.NetworkPolicyEgressRuleArgs(
                to=[broker_peer()], ports=[k8s.networking.v1.NetworkPolicyPortArgs(port=TLS_PORT, protocol="TCP")])],
        ), opts=self._child())

    def _metadata(self, name: str) -> k8s.meta.v1.ObjectMetaArgs:
        return k8s.meta.v1.ObjectMetaArgs(name=name, namespace=self._args.namespace, labels=common_labels(PLANE))

    def _child(self, depends_on: Sequence[pulumi.Resource] = ()) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, provider=self._args.provider,
                                      depends_on=[*self._args.depends_on, *depends_on])


def plain_listener(clients: Sequence[KafkaClient]) -> dict[str, Any]:
    """The Strimzi listener: internal, no TLS, no authentication, open only to the PLAINTEXT-only services' pods."""
    return {"name": LISTENER, "port": PLAIN_PORT, "type": "internal", "tls": False,
            "networkPolicyPeers": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": c.namespace}},
                                    "podSelector": {"matchLabels": selector_labels(c.service)}} for c in clients]}
