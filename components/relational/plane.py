"""The relational state plane (ADR-0010): CloudNativePG is the only way this platform runs Postgres.

One CNPG `Cluster` per service that owns relational state, plus Lakekeeper's catalog database. Each cluster
lives in its owner's namespace (a Secret cannot be read across namespaces, and the owner reads the cluster's
`<cluster>-app` Secret), archives WAL and base backups through the Barman Cloud plugin to its own RGW bucket,
and is closed by a NetworkPolicy to everyone but its owner and the CNPG operator.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.cluster.namespaces import api_server_egress
from components.common.credentials import GeneratedPassword
from components.common.kube import custom_resource, peer, pod_monitor, scrape_ingress, spread_spec
from components.common.site import Site
from components.relational.backup_alerts import BACKUP_ALERTS, backup_alert_rules
from components.relational.database import (
    BARMAN_PLUGIN,
    CNPG_OPERATOR_NAMESPACE,
    INSTANCE_METRICS_PORT,
    PLANE,
    POOLER_METRICS_PORT,
    POSTGRES_PORT,
    SQL_READER_CONNECTIONS,
    SQL_READER_ROLE,
    Database,
    SqlReader,
)
from components.relational.outbox import (
    RELAY_ROLE,
    publication_name,
    publication_spec,
    relay_parameters,
    relay_password_secret,
    relay_role,
    relay_slots,
)
from components.storage.ceph import ObjectUser, StorageAccess, bucket_policy
from foundry.config import Postgres
from foundry.labels import NAME_LABEL, common_labels, namespace_for, selector_labels
from foundry.outboxes import RELAY_PLANE, RELAY_PODS
from foundry.versions import POSTGRES_IMAGE


@dataclass(frozen=True)
class RelationalStatePlaneArgs:
    postgres: Postgres
    storage: StorageAccess
    site: Site
    databases: Sequence[Database]
    provider: k8s.Provider
    cnpg_ready: Sequence[pulumi.Resource] = ()       # CloudNativePG and the Barman Cloud plugin charts
    buckets_ready: Sequence[pulumi.Resource] = ()    # Rook, which serves ObjectBucketClaims
    namespaces_ready: Sequence[pulumi.Resource] = ()
    sql_reader: SqlReader | None = None
    bucket_readers: Sequence[ObjectUser] = ()        # RGW users the backup buckets grant read-only (the off-site copy)
    bucket_annotations: Mapping[str, str] = field(default_factory=dict)   # a single-site prod's exemption


class RelationalStatePlane(pulumi.ComponentResource):
    clusters: dict[str, pulumi.CustomResource]

    def __init__(self, name: str, args: RelationalStatePlaneArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("openfoundry:relational:RelationalStatePlane", name, None, opts)
        self._args = args
        self.clusters = {db.owner: self._database(db) for db in args.databases}
        recover = args.postgres.recover_from
        if recover is not None:
            origin = next(db for db in args.databases if db.cluster == recover.cluster)
            self._recovery_cluster(origin, recover.target_time)
        if args.site.prod:   # ADR-0012: development stacks page nobody
            self._backup_alerts()
        self.register_outputs({"clusters": {db.owner: db.cluster for db in args.databases}})

    def _backup_alerts(self) -> None:
        """One rule for every cluster's backups and archiving, beside the stores in the storage namespace."""
        site = self._args.site
        custom_resource("monitoring.coreos.com/v1", "PrometheusRule", BACKUP_ALERTS, namespace_for("storage"),
                        {**common_labels(PLANE), **site.scrape_labels},
                        {"groups": [{"name": BACKUP_ALERTS,
                                     "rules": backup_alert_rules(self._args.postgres.backup_schedule)}]},
                        pulumi.ResourceOptions(parent=self, provider=self._args.provider,
                                               depends_on=list(self._args.namespaces_ready)))

    # --- one database ------------------------------------------------------------------------------------

    def _database(self, db: Database) -> pulumi.CustomResource:
        claim = self._bucket_claim(db)
        store = self._object_store(db, claim)
        reader = self._reader_secrets(db) if self._reads(db) else []
        relay = self._relay_secrets(db) if db.outbox else []
        cluster = self._custom(db, "postgresql.cnpg.io/v1", "Cluster", db.cluster, self._cluster_spec(db, db.cluster),
                               depends_on=[store, *reader, *relay], stateful=True)
        if db.outbox:
            self._custom(db, "postgresql.cnpg.io/v1", "Publication", publication_name(db), publication_spec(db),
                         depends_on=[cluster])
        self._custom(db, "postgresql.cnpg.io/v1", "ScheduledBackup", f"{db.cluster}-nightly", {
            "schedule": self._args.postgres.backup_schedule,
            "backupOwnerReference": "self",
            "immediate": True,
            "cluster": {"name": db.cluster},
            "method": "plugin",
            "pluginConfiguration": {"name": BARMAN_PLUGIN},
        }, depends_on=[cluster])
        if db.vector:
            self._custom(db, "postgresql.cnpg.io/v1", "Database", f"{db.cluster}-{db.name.replace('_', '-')}", {
                "name": db.name,
                "owner": db.name,
                "cluster": {"name": db.cluster},
                "extensions": [{"name": "vector", "ensure": "present"}],
            }, depends_on=[cluster])
        if db.pooled:
            self._custom(db, "postgresql.cnpg.io/v1", "Pooler", db.pooler, {
                "cluster": {"name": db.cluster},
                "instances": self._args.postgres.pooler_instances,
                "type": "rw",
                "pgbouncer": {"poolMode": "transaction"},
                "template": {"spec": {"containers": [
                    {"name": "pgbouncer", "resources": self._args.postgres.pooler_resources.as_requirements()}]}},
            }, depends_on=[cluster])
        # a Prometheus Operator kind: it waits for the cluster, not for CNPG's charts
        pod_monitor(db.cluster, db.namespace, common_labels(PLANE), {"cnpg.io/cluster": db.cluster}, self._args.site,
                    pulumi.ResourceOptions(parent=self, provider=self._args.provider,
                                           depends_on=[*self._args.namespaces_ready, cluster]))
        self._network_policy(db, db.cluster)
        self._egress_policy(db, db.cluster)
        return cluster

    def _cluster_spec(self, db: Database, name: str, bootstrap: dict[str, Any] | None = None) -> dict[str, Any]:
        """The spec of cluster `name` serving `db`; a cluster not named after `db` archives under its own name."""
        pg, site = self._args.postgres, self._args.site
        relays = db.outbox and name == db.cluster
        parameters = {**pg.parameters, **(relay_parameters(pg.instances, pg.storage_size) if relays else {})}
        postgresql: dict[str, Any] = {"parameters": parameters} if parameters else {}
        if pg.synchronous_replicas > 0:
            postgresql["synchronous"] = {"method": "any", "number": pg.synchronous_replicas, "dataDurability": "required"}
        archiver: dict[str, Any] = {"barmanObjectName": db.object_store}
        if name != db.cluster:
            archiver["serverName"] = name
        spec: dict[str, Any] = {
            "instances": pg.instances,
            "imageName": POSTGRES_IMAGE,
            "enablePDB": True,
            "storage": {"size": pg.storage_size, "storageClass": self._args.storage.block_class},
            "resources": pg.resources.as_requirements(),
            "bootstrap": bootstrap or {"initdb": {"database": db.name, "owner": db.name}},
            "plugins": [{"name": BARMAN_PLUGIN, "isWALArchiver": True, "parameters": archiver}],
            "affinity": {"enablePodAntiAffinity": True, "podAntiAffinityType": "required" if site.prod else "preferred",
                         "topologyKey": "kubernetes.io/hostname"},
            "topologySpreadConstraints": [spread_spec(site.zone_label, {"cnpg.io/cluster": name}, site.prod)],
            "inheritedMetadata": {"labels": {**common_labels(PLANE), NAME_LABEL: name}},
        }
        if postgresql:
            spec["postgresql"] = postgresql
        if relays:
            spec.update(relay_slots(pg.instances))
        if db.pooled and name == db.cluster:
            # PgBouncer presents the cluster's server certificate, whose names are the cluster's Services only
            # (CNPG GetClusterAltDNSNames): the pooler's must be added for clients that verify the host
            pooler = db.pooler
            spec["certificates"] = {"serverAltDNSNames": [pooler, f"{pooler}.{db.namespace}", f"{pooler}.{db.namespace}.svc",
                                                          f"{pooler}.{db.namespace}.svc.cluster.local"]}
        roles = self._managed_roles(db) if name == db.cluster else []
        if roles:
            spec["managed"] = {"roles": roles}
        return spec

    def _managed_roles(self, db: Database) -> list[dict[str, Any]]:
        reader = [{
            "name": SQL_READER_ROLE, "ensure": "present", "login": True, "inRoles": ["pg_read_all_data"],
            "connectionLimit": SQL_READER_CONNECTIONS, "passwordSecret": {"name": db.reader_secret},
            "comment": "read-only route of the Flight SQL gateway",
        }] if self._reads(db) else []
        return [*reader, *([relay_role(db)] if db.outbox else [])]

    def _reads(self, db: Database) -> bool:
        return db.sql_readable and self._args.sql_reader is not None

    def _reader_secrets(self, db: Database) -> list[k8s.core.v1.Secret]:
        """The reader role's password: CNPG reads it beside the cluster, the reading service in its own namespace."""
        assert self._args.sql_reader is not None
        password = GeneratedPassword(db.reader_secret, opts=pulumi.ResourceOptions(parent=self))
        return [self._basic_auth(db.reader_secret, namespace, SQL_READER_ROLE, password)
                for namespace in dict.fromkeys([db.namespace, self._args.sql_reader.namespace])]

    def _relay_secrets(self, db: Database) -> list[k8s.core.v1.Secret]:
        """The outbox relay role's password: CNPG reads it beside the cluster, Kafka Connect in the relay's namespace."""
        name = relay_password_secret(db)
        password = GeneratedPassword(name, opts=pulumi.ResourceOptions(parent=self))
        return [self._basic_auth(name, namespace, RELAY_ROLE, password)
                for namespace in dict.fromkeys([db.namespace, namespace_for(RELAY_PLANE)])]

    def _basic_auth(self, name: str, namespace: str, user: str, password: GeneratedPassword) -> k8s.core.v1.Secret:
        return k8s.core.v1.Secret(
            f"{namespace}-{name}",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=namespace, labels=common_labels(PLANE)),
            type="kubernetes.io/basic-auth",
            string_data={"username": pulumi.Output.from_input(user), "password": password.value},
            opts=pulumi.ResourceOptions(parent=self, provider=self._args.provider,
                                        depends_on=list(self._args.namespaces_ready)))

    def _bucket_claim(self, db: Database) -> pulumi.CustomResource:
        readers = [user for user in self._args.bucket_readers if db.bucket in user.buckets]
        # the policy replaces the provisioner's own; the claim's user still owns the bucket
        granted = {"additionalConfig": {"bucketPolicy": bucket_policy(db.bucket, readers)}} if readers else {}
        return self._custom(db, "objectbucket.io/v1alpha1", "ObjectBucketClaim", db.bucket, {
            "bucketName": db.bucket,
            "storageClassName": self._args.storage.bucket_class,
            **granted,
        }, stateful=True, needs=self._args.buckets_ready, annotations=self._args.bucket_annotations)

    def _object_store(self, db: Database, claim: pulumi.CustomResource) -> pulumi.CustomResource:
        credentials = db.bucket  # the claim's Secret is named after the claim
        return self._custom(db, "barmancloud.cnpg.io/v1", "ObjectStore", db.object_store, {
            "retentionPolicy": f"{self._args.postgres.backup_retention_days}d",
            "configuration": {
                "destinationPath": f"s3://{db.bucket}/",
                "endpointURL": self._args.storage.gateway.endpoint,
                "s3Credentials": {
                    "accessKeyId": {"name": credentials, "key": "AWS_ACCESS_KEY_ID"},
                    "secretAccessKey": {"name": credentials, "key": "AWS_SECRET_ACCESS_KEY"},
                },
                "wal": {"compression": "gzip"},
                "data": {"compression": "gzip"},
            },
        }, depends_on=[claim])

    def _recovery_cluster(self, origin: Database, target_time: str) -> None:
        """A new cluster restored from `origin`'s backups to a point in time; it archives under its own name."""
        name = origin.recovery_cluster
        bootstrap = {"recovery": {"source": origin.cluster, "database": origin.name, "owner": origin.name,
                                  "recoveryTarget": {"targetTime": target_time}}}
        spec = self._cluster_spec(origin, name, bootstrap=bootstrap)
        spec["externalClusters"] = [{
            "name": origin.cluster,
            "plugin": {"name": BARMAN_PLUGIN,
                       "parameters": {"barmanObjectName": origin.object_store, "serverName": origin.cluster}},
        }]
        self._custom(origin, "postgresql.cnpg.io/v1", "Cluster", name, spec,
                     depends_on=[self.clusters[origin.owner]], stateful=True)
        self._network_policy(origin, name)
        self._egress_policy(origin, name)

    def _network_policy(self, db: Database, cluster: str) -> None:
        """Only the owner (and the pooler, which the owner reaches), the CNPG operator and, for a sqlReadable
        database, the SQL reader may connect (the reader's role reads, nothing more)."""
        owner_peer = peer(pods=selector_labels(db.owner))
        migrator_peer = [peer(pods=selector_labels(db.migrator))] if db.migrator else []
        operator_peer = peer(CNPG_OPERATOR_NAMESPACE)
        pooler_peer = peer(pods={"cnpg.io/poolerName": db.pooler})
        peers = [owner_peer, *migrator_peer, *([pooler_peer] if db.pooled and cluster == db.cluster else [])]
        if self._reads(db) and cluster == db.cluster and self._args.sql_reader is not None:
            reader = self._args.sql_reader
            peers.append(peer(reader.namespace, selector_labels(reader.service)))
        if db.outbox and cluster == db.cluster:
            # the relay replicates from the instances: a pooler cannot carry a replication connection
            peers.append(peer(namespace_for(RELAY_PLANE), RELAY_PODS))
        k8s.networking.v1.NetworkPolicy(
            f"{cluster}-access",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=f"{cluster}-access", namespace=db.namespace,
                                                labels=common_labels(PLANE)),
            spec=k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels={"cnpg.io/cluster": cluster}),
                policy_types=["Ingress"],
                ingress=[
                    k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                        from_=peers, ports=[k8s.networking.v1.NetworkPolicyPortArgs(port=POSTGRES_PORT, protocol="TCP")]),
                    # instance manager status (8000) for the operator, replication (5432) between instances
                    k8s.networking.v1.NetworkPolicyIngressRuleArgs(from_=[operator_peer], ports=[
                        k8s.networking.v1.NetworkPolicyPortArgs(port=8000, protocol="TCP"),
                        k8s.networking.v1.NetworkPolicyPortArgs(port=POSTGRES_PORT, protocol="TCP")]),
                    k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                        from_=[peer(pods={"cnpg.io/cluster": cluster})],
                        ports=[k8s.networking.v1.NetworkPolicyPortArgs(port=POSTGRES_PORT, protocol="TCP")]),
                    # the instances' and the pooler's exporters (CNPG: metrics 9187, PgBouncer: metrics 9127)
                    scrape_ingress(self._args.site, [INSTANCE_METRICS_PORT, POOLER_METRICS_PORT]),
                ],
            ),
            opts=pulumi.ResourceOptions(parent=self, provider=self._args.provider,
                                        depends_on=list(self._args.namespaces_ready)),
        )

    def _egress_policy(self, db: Database, cluster: str) -> None:
        """What the instances (and the pooler) may reach: each other, the API server, the backups' RGW."""
        instances = {"cnpg.io/cluster": cluster}
        # pooler pods carry cnpg.io/cluster too: they get their own, narrower policy below
        not_poolers = [k8s.meta.v1.LabelSelectorRequirementArgs(key="cnpg.io/poolerName", operator="DoesNotExist")]
        to_instances = k8s.networking.v1.NetworkPolicyEgressRuleArgs(
            to=[peer(pods=instances)],
            ports=[k8s.networking.v1.NetworkPolicyPortArgs(port=p, protocol="TCP") for p in (POSTGRES_PORT, 8000)])
        to_rgw = self._args.storage.gateway.egress_rule()
        selectors = [(f"{cluster}-egress", not_poolers, instances, [to_instances, to_rgw, api_server_egress()])]
        if db.pooled and cluster == db.cluster:
            selectors.append((f"{db.pooler}-egress", [], {"cnpg.io/poolerName": db.pooler},
                              [to_instances, api_server_egress()]))
        for name, expressions, pods, egress in selectors:
            k8s.networking.v1.NetworkPolicy(
                name,
                metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=db.namespace, labels=common_labels(PLANE)),
                spec=k8s.networking.v1.NetworkPolicySpecArgs(
                    pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=pods, match_expressions=expressions or None),
                    policy_types=["Egress"], egress=egress),
                opts=pulumi.ResourceOptions(parent=self, provider=self._args.provider,
                                            depends_on=list(self._args.namespaces_ready)),
            )

    # --- plumbing ----------------------------------------------------------------------------------------

    def _custom(self, db: Database, api_version: str, kind: str, name: str, spec: dict[str, Any],
                depends_on: Sequence[pulumi.Resource] = (), stateful: bool = False,
                needs: Sequence[pulumi.Resource] | None = None,
                annotations: Mapping[str, str] | None = None) -> pulumi.CustomResource:
        prod = self._args.site.prod
        ready = [*self._args.namespaces_ready, *(self._args.cnpg_ready if needs is None else needs)]
        return custom_resource(api_version, kind, name, db.namespace, common_labels(PLANE), spec, pulumi.ResourceOptions(
            parent=self, provider=self._args.provider, depends_on=[*ready, *depends_on],
            protect=stateful and prod, retain_on_delete=stateful and prod), annotations=annotations)
