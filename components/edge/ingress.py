"""The edge (seed: the gateway in front of the planes; ADR-0014): the one way in from outside.

Two Ingresses on the configured class and host, both with TLS from cert-manager: the web app and the gateway
(`/api`), and the Flight SQL surface of sql-bi-gateway-service (gRPC, on `sql.<host>`), the only edge SQL
surface. The gateway's CORS origins and anonymous rate limit come from `edge.*` through its binary's contract
(data/upstream/binaries/edge-gateway-service.yaml); the ingress limits each client to the same rate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.common.kube import custom_resource, peer
from foundry.catalog import Catalog
from foundry.config import Edge as EdgeSettings
from foundry.labels import common_labels, namespace_for

PLANE = "edge"
SELF_SIGNED_ISSUER = "openfoundry-selfsigned"
WEB_TLS_SECRET = "openfoundry-edge-tls"
SQL_TLS_SECRET = "openfoundry-flight-sql-tls"
ACME_SOLVER_PORT = 8089


def flight_sql_host(edge: EdgeSettings) -> str:
    return f"sql.{edge.host}"


@dataclass(frozen=True)
class EdgeArgs:
    edge: EdgeSettings
    catalog: Catalog
    provider: k8s.Provider
    cert_manager_ready: Sequence[pulumi.Resource] = ()
    depends_on: Sequence[pulumi.Resource] = ()


class Edge(pulumi.ComponentResource):
    def __init__(self, name: str, args: EdgeArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("openfoundry:edge:Edge", name, None, opts)
        self._args = args
        edge = args.edge
        flight = args.catalog.by_name("sql-bi-gateway-service")
        edge_ns, sql_ns = namespace_for(PLANE), namespace_for(flight.plane)
        web = self._certificate(WEB_TLS_SECRET, edge.host, edge_ns)
        sql = self._certificate(SQL_TLS_SECRET, flight_sql_host(edge), sql_ns)
        self._ingress("openfoundry", edge.host, edge_ns, WEB_TLS_SECRET,
                      [("/api", "gateway", "http"), ("/", "web", "http")],
                      annotations={"nginx.ingress.kubernetes.io/limit-rpm": str(edge.rate_limit_per_minute)},
                      depends_on=[web])
        self._ingress("openfoundry-flight-sql", flight_sql_host(edge), sql_ns, SQL_TLS_SECRET,
                      [("/", flight.name, "flight-sql")], annotations={"nginx.ingress.kubernetes.io/backend-protocol": "GRPC"},
                      depends_on=[sql])
        for namespace in (edge_ns, sql_ns):
            self._admit_acme_solvers(namespace)
        self.register_outputs({"url": f"https://{edge.host}", "flightSql": f"grpc+tls://{flight_sql_host(edge)}:443"})

    def _certificate(self, secret: str, host: str, namespace: str) -> pulumi.Resource:
        cluster_issuer = self._args.edge.tls_cluster_issuer
        if cluster_issuer:
            issuer = {"kind": "ClusterIssuer", "name": cluster_issuer, "group": "cert-manager.io"}
        else:
            # development: a self-signed Issuer beside the certificate (an Issuer serves its own namespace only);
            # prod names a real ClusterIssuer (the config model insists)
            self._custom("cert-manager.io/v1", "Issuer", SELF_SIGNED_ISSUER, namespace, {"selfSigned": {}},
                         resource_name=f"{SELF_SIGNED_ISSUER}-{namespace}")
            issuer = {"kind": "Issuer", "name": SELF_SIGNED_ISSUER, "group": "cert-manager.io"}
        return self._custom("cert-manager.io/v1", "Certificate", secret, namespace, {
            "secretName": secret, "dnsNames": [host], "issuerRef": issuer,
            "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
        })

    def _admit_acme_solvers(self, namespace: str) -> None:
        """cert-manager's HTTP-01 solver pods answer the ACME challenge through the ingress controller; the
        namespaces deny all ingress, so the controller is let in to them (and only them) on the solver port."""
        k8s.networking.v1.NetworkPolicy(
            f"{namespace}-acme-http01-solver",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="acme-http01-solver", namespace=namespace,
                                                labels=common_labels(PLANE)),
            spec=k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels={"acme.cert-manager.io/http01-solver": "true"}),
                policy_types=["Ingress"],
                ingress=[k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                    from_=[peer(self._args.edge.ingress_namespace)],
                    ports=[k8s.networking.v1.NetworkPolicyPortArgs(port=ACME_SOLVER_PORT, protocol="TCP")])]),
            opts=pulumi.ResourceOptions(parent=self, provider=self._args.provider, depends_on=list(self._args.depends_on)))

    def _ingress(self, name: str, host: str, namespace: str, tls_secret: str, paths: list[tuple[str, str, str]],
                 annotations: dict[str, str], depends_on: Sequence[pulumi.Resource] = ()) -> None:
        k8s.networking.v1.Ingress(
            name,
            metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=namespace,
                                                labels=common_labels(PLANE), annotations=annotations),
            spec=k8s.networking.v1.IngressSpecArgs(
                ingress_class_name=self._args.edge.ingress_class,
                tls=[k8s.networking.v1.IngressTLSArgs(hosts=[host], secret_name=tls_secret)],
                rules=[k8s.networking.v1.IngressRuleArgs(host=host, http=k8s.networking.v1.HTTPIngressRuleValueArgs(
                    paths=[k8s.networking.v1.HTTPIngressPathArgs(
                        path=path, path_type="Prefix",
                        backend=k8s.networking.v1.IngressBackendArgs(service=k8s.networking.v1.IngressServiceBackendArgs(
                            name=service, port=k8s.networking.v1.ServiceBackendPortArgs(name=port))))
                        for path, service, port in paths]))]),
            opts=pulumi.ResourceOptions(parent=self, provider=self._args.provider,
                                        depends_on=[*self._args.depends_on, *depends_on]))

    def _custom(self, api_version: str, kind: str, name: str, namespace: str, spec: dict[str, Any],
                resource_name: str | None = None) -> pulumi.Resource:
        return custom_resource(api_version, kind, name, namespace, common_labels(PLANE), spec, pulumi.ResourceOptions(
            parent=self, provider=self._args.provider, depends_on=[*self._args.depends_on, *self._args.cert_manager_ready]),
            resource_name=resource_name)
