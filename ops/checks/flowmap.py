"""The flows the platform needs, and the flows it must never allow, derived from the catalog, the registries and
what the stack renders (never from the NetworkPolicies they are checked against).

Required: every catalog caller to its callee's ports; every database owner to its database (or its pooler), the SQL
gateway's read-only route to the replicas, the instances to each other and to their backups; every service whose
binary has a Kafka client to the brokers' listener its client speaks (its contract: data/upstream/binaries/), and
the ACL steward to the TLS one; every service whose binary has a NATS client, and NACK, to NATS; every Iceberg
client to Lakekeeper and, since Lakekeeper signs their S3 requests instead of handing out credentials, to RGW; every
bucket owner whose binary has an S3 client to RGW; the off-site copy to RGW and to the other site's addresses (and
nowhere else outside); the operators to the pods they manage where they connect to them;
Prometheus to every metrics port a PodMonitor names; the ingress controller to every edge backend and ACME solver;
every pod to the cluster's DNS. ClickHouse, when the stack reads the warehouse with it, to Lakekeeper, RGW and the
issuer, and from Grafana and the SQL gateway. Forbidden: a service into another service's database; anything but
sql-bi-gateway-service into Trino or ClickHouse (and Prometheus into anything but ClickHouse's metrics port); the
edge into the relational state; any service but the gateway into the gateway's cache (in prod, the gateway itself
but through the primary's proxy); a service into a Kafka listener its binary does not speak, or into NATS when its
binary has no NATS client.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from ipaddress import ip_network
from urllib.parse import urlsplit

from components.storage.offsite import NAME as OFFSITE_COPY
from foundry.binaries import running
from foundry.catalog import PLATFORM_MIGRATORS, Catalog, Service
from foundry.labels import namespace_for, selector_labels
from foundry.outboxes import RELAY, load_outboxes
from foundry.upstream import Contracts, load_contracts
from ops.checks.runtime import API_SERVER_IP, IDENTITY_PROVIDER_IP, Pod, Runtime

KAFKA_PORTS = {"scram-sha-512": 9093, "plaintext": 9092}   # Strimzi's tls and plain listeners


@dataclass(frozen=True)
class Flow:
    kind: str                 # why it exists: "caller", "database", "kafka", ...
    source: Pod | str         # a pod, or an address outside the cluster
    destination: Pod | str
    port: int
    required: bool            # required (must be allowed) or forbidden (must be denied)
    protocol: str = "TCP"

    @property
    def port_name(self) -> str:
        if isinstance(self.destination, Pod):
            return next((name for name, number in self.destination.ports.items() if number == self.port), "")
        return ""

    def describe(self) -> str:
        def name(end: Pod | str) -> str:
            return end.name if isinstance(end, Pod) else end
        return f"{name(self.source)} → {name(self.destination)} :{self.port}/{self.protocol}"


class FlowMap:
    """Builds the required and forbidden flows of one stack."""

    def __init__(self, runtime: Runtime, catalog: Catalog, contracts: Contracts) -> None:
        self.runtime, self.catalog = runtime, catalog
        self.runs = {run.service.name: run for run in running(catalog, contracts)}
        self.flows: list[Flow] = []

    def build(self) -> list[Flow]:
        for step in (self._callers, self._edge, self._databases, self._kafka, self._relay, self._nats, self._cassandra,
                     self._lakehouse,
                     self._analytics, self._buckets, self._platform_parts, self._operators, self._scrapes, self._dns,
                     self._forbidden):
            step()
        return self.flows

    # --- helpers ----------------------------------------------------------------------------------------

    def _service_pods(self, service: Service) -> list[Pod]:
        return self.runtime.selected(namespace_for(service.plane), selector_labels(service.name))

    def _pods(self, namespace: str, **labels: str) -> list[Pod]:
        return self.runtime.selected(namespace, labels)

    def _need(self, kind: str, sources: Sequence[Pod | str], destinations: Sequence[Pod | str], ports: list[int],
              protocol: str = "TCP", replicas: bool = False) -> None:
        """`replicas`: a modelled pod stands for several replicas, which talk to each other (a flow to itself)."""
        self._add(kind, sources, destinations, ports, True, protocol, replicas)

    def _deny(self, kind: str, sources: Sequence[Pod], destinations: Sequence[Pod], ports: list[int]) -> None:
        self._add(kind, sources, destinations, ports, False, "TCP")

    def _add(self, kind: str, sources: Sequence[Pod | str], destinations: Sequence[Pod | str], ports: list[int],
             required: bool, protocol: str, replicas: bool = False) -> None:
        for source in sources:
            for destination in destinations:
                if source is destination and not replicas:
                    continue
                for port in ports:
                    self.flows.append(Flow(kind, source, destination, port, required, protocol))

    def _behind(self, namespace: str, service: str) -> list[Pod]:
        """The pods a Service of the stack sends to."""
        (found,) = [s for s in self.runtime.of_kind("Service")
                    if s.metadata.get("namespace") == namespace and s.metadata.get("name") == service]
        return self.runtime.selected(namespace, found.spec.get("selector") or {})

    def _kafka_port(self, service: Service) -> int | None:
        """The listener the service's binary speaks; None when it has no Kafka client (or runs nothing)."""
        run = self.runs.get(service.name)
        return KAFKA_PORTS[run.binary.kafka.security] if run and run.binary.kafka else None

    def _nats_client(self, service: Service) -> bool:
        run = self.runs.get(service.name)
        return bool(service.uses_nats and run and run.binary.nats)

    def _s3_client(self, service: Service) -> bool:
        run = self.runs.get(service.name)
        return bool(run and any(store.kind == "s3" for store in run.binary.stores))

    def _db_pods(self, owner: str, namespace: str, role: str | None = None) -> list[Pod]:
        labels = {"cnpg.io/cluster": f"pg-{owner}", "cnpg.io/podRole": "instance"}
        if role:
            labels["cnpg.io/instanceRole"] = role
        return self.runtime.selected(namespace, labels)

    # --- required ---------------------------------------------------------------------------------------

    def _callers(self) -> None:
        for service in self.catalog.services:
            ports = list(service.ports.serving().values())
            for caller in service.callers:
                sources = [self.runtime.ingress_controller()] if caller == "ingress" else \
                    self._service_pods(self.catalog.by_name(caller))
                self._need("caller", sources, self._service_pods(service), ports)

    def _edge(self) -> None:
        services = {(s.metadata.get("namespace"), s.metadata.get("name")): s for s in self.runtime.of_kind("Service")}
        for ingress in self.runtime.of_kind("Ingress"):
            namespace = ingress.metadata.get("namespace")
            for rule in ingress.spec.get("rules") or []:
                for path in (rule.get("http") or {}).get("paths") or []:
                    backend = (path.get("backend") or {}).get("service") or {}
                    service = services[(namespace, backend["name"])]
                    port = next(p for p in service.spec.get("ports") or [] if p.get("name") == backend["port"]["name"])
                    pods = self.runtime.selected(str(namespace), service.spec.get("selector") or {})
                    target = port.get("targetPort", port["port"])
                    numbers = [p.ports[target] if isinstance(target, str) else target for p in pods]
                    self._need("edge", [self.runtime.ingress_controller()], pods, sorted(set(numbers)))
        solvers = [p for p in self.runtime.pods if p.labels.get("acme.cert-manager.io/http01-solver") == "true"]
        self._need("edge", [self.runtime.ingress_controller()], solvers, [8089])

    def _databases(self) -> None:
        for owner, plane in self.catalog.database_owners().items():
            namespace = namespace_for(plane)
            owner_pods = self._pods(namespace, **{"app.kubernetes.io/name": owner})
            primary, replicas = self._db_pods(owner, namespace, "primary"), self._db_pods(owner, namespace, "replica")
            instances = primary + replicas
            poolers = self._pods(namespace, **{"cnpg.io/poolerName": f"pg-{owner}-pooler-rw"})
            self._need("database", owner_pods, poolers or primary, [5432])
            if owner in PLATFORM_MIGRATORS:
                migrators = self._pods(namespace, **{"app.kubernetes.io/name": PLATFORM_MIGRATORS[owner]})
                self._need("database", migrators, primary, [5432])
            if owner == "lakekeeper":   # its read pool: the replicas, or any instance when there are none
                self._need("database", owner_pods, replicas or primary, [5432])
            self._need("database", poolers, instances, [5432])
            self._need("database", instances, instances, [5432])   # streaming replication
            self._need("database", [self.runtime.operator("cloudnative-pg")], instances, [8000, 5432])
            self._need("database", instances, self._rgw(), [8080])
            self._need("database", instances, [API_SERVER_IP], [443])
        gateway = self.catalog.by_name("sql-bi-gateway-service")
        for service in (s for s in self.catalog.services if s.sql_readable):
            namespace = namespace_for(service.plane)
            readers = self._db_pods(service.name, namespace, "replica") or self._db_pods(service.name, namespace)
            self._need("database", self._service_pods(gateway), readers, [5432])

    def _rgw(self) -> list[Pod]:
        return self.runtime.selected("rook-ceph", {"app": "rook-ceph-rgw"})

    def _kafka(self) -> None:
        namespace = namespace_for("ingestion")
        brokers = self._pods(namespace, **{"strimzi.io/broker-role": "true"})
        nodes = self._pods(namespace, **{"strimzi.io/name": "openfoundry-kafka"})
        operands = [p for p in self._pods(namespace, **{"strimzi.io/cluster": "openfoundry"}) if p not in nodes]
        for service in self.catalog.services:
            port = self._kafka_port(service)
            if port is not None:
                self._need("kafka", self._service_pods(service), brokers, [port])
        self._need("kafka", self._pods(namespace, **selector_labels("anonymous-acl-steward")), brokers, [9093])
        self._need("kafka", nodes, nodes, [9090, 9091])
        self._need("kafka", [self.runtime.operator("strimzi")], nodes, [9090, 9091, 8443])
        self._need("kafka", operands, brokers, [9091])
        self._need("kafka", nodes + operands, [API_SERVER_IP], [443])

    def _relay(self) -> None:
        """The outbox relay's workers: the brokers, each outbox's primary (a replication connection), the API server;
        the operator reaches their REST API. No other database, and no store, is theirs to reach."""
        namespace = namespace_for("ingestion")
        workers = self._pods(namespace, **{"strimzi.io/cluster": RELAY, "strimzi.io/kind": "KafkaConnect"})
        brokers = self._pods(namespace, **{"strimzi.io/broker-role": "true"})
        outboxes = {o.name for o in load_outboxes().outboxes}
        self._need("outbox relay", workers, brokers, [9093])
        self._need("outbox relay", workers, [API_SERVER_IP], [443])
        self._need("outbox relay", [self.runtime.operator("strimzi")], workers, [8083])
        self._need("outbox relay", workers, workers, [8083], replicas=True)   # to the group's leader
        for owner, plane in self.catalog.database_owners().items():
            if owner in outboxes:
                self._need("outbox relay", workers, self._db_pods(owner, namespace_for(plane), "primary"), [5432])
            else:
                self._deny("another's database", workers, self._db_pods(owner, namespace_for(plane)), [5432])
        self._deny("another's store", workers, self._cassandra_nodes(), [9042])

    def _nats(self) -> None:
        namespace = namespace_for("control")
        servers = self._pods(namespace, **selector_labels("nats"))
        nack = self._pods(namespace, app="nack")
        for service in (s for s in self.catalog.services if self._nats_client(s)):
            self._need("nats", self._service_pods(service), servers, [4222])
        self._need("nats", nack, servers, [4222])
        self._need("nats", nack, [API_SERVER_IP], [443])
        self._need("nats", servers, servers, [6222])

    def _cassandra_nodes(self) -> list[Pod]:
        return self._pods(namespace_for("storage"), **{"app.kubernetes.io/managed-by": "cass-operator"})

    def _cassandra(self) -> None:
        """CQL from the clients their contracts name and the schema Job; gossip between the nodes; the management
        API from both operators; the metrics endpoint from Prometheus (the ServiceMonitor k8ssandra makes)."""
        nodes = self._cassandra_nodes()
        for service in (s for s in self.catalog.services if self._cassandra_client(s)):
            self._need("cassandra", self._service_pods(service), nodes, [9042])
        self._need("cassandra", self._pods(namespace_for("storage"), **selector_labels("cassandra-schema")), nodes, [9042])
        self._need("cassandra", nodes, nodes, [7000, 7001])
        operators = [self.runtime.operator("k8ssandra-operator"), self.runtime.operator("cass-operator")]
        self._need("cassandra", operators, nodes, [8080, 50051])
        self._need("cassandra", nodes, self._rgw(), [8080])   # Medusa's backups
        self._need("metrics", [self.runtime.prometheus()], nodes, [9000])

    def _cassandra_client(self, service: Service) -> bool:
        run = self.runs.get(service.name)
        return bool(run and run.binary.cassandra)

    def _lakehouse(self) -> None:
        storage = namespace_for("storage")
        catalog = self._pods(storage, **selector_labels("lakekeeper"))
        # the seed's sinks would be clients; at the pin no OpenFoundry binary speaks Iceberg REST to Lakekeeper (the
        # sinks post to an append path of OpenFoundry's own: their contracts), so the clients are the platform's
        clients = self._pods(storage, **{"app.kubernetes.io/name": "lakekeeper-warehouse-setup"})
        clients += self._pods(storage, app="iceberg-maintenance")
        trino = self._pods(namespace_for("compute"), **selector_labels("trino"))
        self._need("iceberg", clients + trino, catalog, [8181])
        self._need("iceberg", clients + trino + catalog, self._rgw(), [8080])   # remote signing; Trino: its own keys
        self._need("iceberg", catalog, [API_SERVER_IP], [443])                    # TokenReview
        migrate = self._pods(storage, **selector_labels("lakekeeper-migrate"))
        self._need("iceberg", catalog + migrate, self._pods(storage, **selector_labels("openfga")), [8081])
        if self.runtime.config.storage.lakehouse.openid_provider_uri:
            self._need("iceberg", catalog + trino, [IDENTITY_PROVIDER_IP], [443])

    def _clickhouse(self) -> list[Pod]:
        return self._pods(namespace_for("storage"), **selector_labels("clickhouse"))

    def _analytics(self) -> None:
        """The blueprint's paths: each writer reads its topic and writes its table through the catalog (the files on
        RGW, signed by Lakekeeper) and its checkpoints to its bucket; ClickHouse reads the catalog and the files;
        Grafana and the gateway read ClickHouse."""
        storage = namespace_for("storage")
        writers = self._pods(storage, **{"openfoundry.io/component": "iceberg-writer"})
        brokers = self._pods(namespace_for("ingestion"), **{"strimzi.io/broker-role": "true"})
        self._need("analytics", writers, brokers, [9093])
        self._need("analytics", writers, self._pods(storage, **selector_labels("lakekeeper")), [8181])
        self._need("analytics", writers, self._rgw(), [8080])
        self._need("analytics", writers, [IDENTITY_PROVIDER_IP], [443])
        clickhouse = self._clickhouse()
        if not clickhouse:
            return
        self._need("analytics", clickhouse, self._pods(storage, **selector_labels("lakekeeper")), [8181])
        self._need("analytics", clickhouse, self._rgw(), [8080])
        self._need("analytics", clickhouse, [IDENTITY_PROVIDER_IP], [443])
        sql = self._service_pods(self.catalog.by_name("sql-bi-gateway-service"))
        self._need("analytics", [self.runtime.grafana(), *sql], self._behind(storage, "clickhouse"), [8123])
        self._deny("analytics", [self.runtime.grafana(), *sql], clickhouse, [9000])    # HTTP only: no native port
        self._deny("analytics", [self.runtime.prometheus()], clickhouse, [8123, 9000])
        # and nothing else of the stack, on any of its ports
        others = [p for p in self.runtime.pods if p not in sql and p not in clickhouse]
        self._deny("analytics", others, clickhouse, [8123, 9000, 9363])

    def _buckets(self) -> None:
        for service in (s for s in self.catalog.services if s.buckets and self._s3_client(s)):
            self._need("bucket", self._service_pods(service), self._rgw(), [8080])
        offsite = self.runtime.config.storage.backups.offsite
        if offsite is not None:   # the off-site copy: this site's RGW, the other site's addresses, nowhere else
            copy = self._pods(namespace_for("storage"), **selector_labels(OFFSITE_COPY))
            port = urlsplit(str(offsite.endpoint)).port or 443
            self._need("off-site copy", copy, self._rgw(), [8080])
            self._need("off-site copy", copy, [str(next(ip_network(cidr).hosts())) for cidr in offsite.addresses], [port])
            self._add("off-site copy", copy, [IDENTITY_PROVIDER_IP, API_SERVER_IP], [port], False, "TCP")

    def _platform_parts(self) -> None:
        """Vespa, Valkey and Trino, reached by the services the seed routes to them, and their own members."""
        storage, edge, compute = namespace_for("storage"), namespace_for("edge"), namespace_for("compute")
        gateway = self._service_pods(self.catalog.by_name("gateway"))
        sql = self._service_pods(self.catalog.by_name("sql-bi-gateway-service"))
        vespa = self._pods(storage, **selector_labels("vespa"))
        self._need("search", sql, self._behind(storage, "vespa"), [8080])
        self._need("search", vespa, vespa, [19071, 8080])
        deployers = [Pod(f"a deployer in {ns}", ns, {}) for ns in self.runtime.config.storage.vespa.deployer_namespaces]
        self._need("search", deployers, self._pods(storage, **{**selector_labels("vespa"),
                                                              "openfoundry.io/vespa-role": "vespa-configserver"}) or vespa,
                   [19071])
        valkey = self._pods(edge, **selector_labels("valkey"))
        if self.runtime.config.edge.cache.nodes > 1:   # the gateway names one server: the primary's proxy
            proxy = self._pods(edge, **selector_labels("valkey-primary"))
            self._need("cache", gateway, proxy, [6379])
            self._need("cache", proxy, valkey, [6379])
            self._need("cache", valkey, valkey, [6379, 26379])
            self._deny("cache", gateway, valkey, [6379, 26379])
        else:
            self._need("cache", gateway, valkey, [6379])
        coordinator = self._pods(compute, **{**selector_labels("trino"), "app.kubernetes.io/component": "coordinator"})
        workers = self._pods(compute, **{**selector_labels("trino"), "app.kubernetes.io/component": "worker"})
        self._need("sql", sql, coordinator, [8080])
        self._need("sql", workers, coordinator, [8080])
        self._need("sql", coordinator, workers, [8080])

    def _operators(self) -> None:
        """Each Flink job: the operator asks its JobManager's REST API; the JobManager and TaskManagers talk; the
        JobManager starts TaskManagers through the API server (native Kubernetes mode)."""
        for deployment in self.runtime.of_kind("FlinkDeployment"):
            namespace, name = str(deployment.metadata.get("namespace")), str(deployment.metadata.get("name"))
            jobmanager = self._pods(namespace, app=name, component="jobmanager")
            taskmanagers = self._pods(namespace, app=name, component="taskmanager")
            self._need("operator", [self.runtime.operator("flink-kubernetes-operator")], jobmanager, [8081])
            self._need("operator", taskmanagers, jobmanager, [6123, 6124])
            self._need("operator", jobmanager, taskmanagers, [6122])
            self._need("operator", jobmanager, [API_SERVER_IP], [443])

    def _scrapes(self) -> None:
        prometheus = self.runtime.prometheus()
        for monitor in self.runtime.of_kind("PodMonitor"):
            selector = (monitor.spec.get("selector") or {}).get("matchLabels") or {}
            for endpoint in monitor.spec.get("podMetricsEndpoints") or []:
                for pod in self.runtime.selected(str(monitor.metadata.get("namespace")), selector):
                    if endpoint["port"] in pod.ports:
                        self._need("metrics", [prometheus], [pod], [pod.ports[endpoint["port"]]])

    def _dns(self) -> None:
        planes = {namespace_for(p) for p in ("storage", "ingestion", "compute", "control", "edge")}
        pods = [p for p in self.runtime.pods if p.namespace in planes]
        self._need("dns", pods, [self.runtime.dns()], [53], "UDP")
        self._need("dns", pods, [self.runtime.dns()], [53], "TCP")

    # --- forbidden --------------------------------------------------------------------------------------

    def _forbidden(self) -> None:
        owners = self.catalog.database_owners()
        for service in self.catalog.services:
            pods = self._service_pods(service)
            for owner, plane in owners.items():
                if owner != service.name and not (service.name == "sql-bi-gateway-service" and self._readable(owner)):
                    self._deny("another's database", pods, self._db_pods(owner, namespace_for(plane)), [5432])
            if service.name != "sql-bi-gateway-service":
                self._deny("trino", pods, self._pods(namespace_for("compute"), **selector_labels("trino")), [8080])
            if service.name != "gateway":
                self._deny("cache", pods, self._pods(namespace_for("edge"), **selector_labels("valkey")), [6379])
                self._deny("cache", pods, self._pods(namespace_for("edge"), **selector_labels("valkey-primary")), [6379])
            brokers = self._pods(namespace_for("ingestion"), **{"strimzi.io/broker-role": "true"})
            self._deny("kafka", pods, brokers, [p for p in KAFKA_PORTS.values() if p != self._kafka_port(service)])
            self._deny("authorization", pods, self._pods(namespace_for("storage"), **selector_labels("openfga")), [8081])
            if not self._nats_client(service):
                self._deny("nats", pods, self._pods(namespace_for("control"), **selector_labels("nats")), [4222])
            if not self._cassandra_client(service):
                self._deny("another's store", pods, self._cassandra_nodes(), [9042, 7000, 8080])
        edge = [self.runtime.ingress_controller(), *[p for s in self.catalog.in_plane("edge") for p in self._service_pods(s)]]
        for owner, plane in owners.items():
            self._deny("edge into relational state", edge, self._db_pods(owner, namespace_for(plane)), [5432])
        self._deny("edge into relational state", edge, self._cassandra_nodes(), [9042])

    def _readable(self, owner: str) -> bool:
        return any(s.name == owner and s.sql_readable for s in self.catalog.services)


def flows_of(runtime: Runtime, catalog: Catalog, contracts: Contracts | None = None) -> list[Flow]:
    return FlowMap(runtime, catalog, contracts or load_contracts()).build()


def empty_kinds(flows: list[Flow]) -> Iterator[str]:
    """The kinds of flow that ended up with no flow at all: a sign a pod model or a label drifted."""
    expected = {"caller", "edge", "database", "kafka", "outbox relay", "nats", "cassandra", "iceberg", "metrics", "dns",
                "another's database", "another's store", "authorization"}
    yield from sorted(expected - {f.kind for f in flows})
