// netpol: NetworkPolicy verdicts for explicit flows, computed by cyclonus' policy matcher (github.com/mattfenwick/cyclonus,
// pkg/matcher), with no cluster. Reads one JSON request on stdin, writes one JSON response on stdout.
//
// Request:  {"policies": [<NetworkPolicy>...], "flows": [{"id", "from": <peer>, "to": <peer>, "port", "portName", "protocol"}]}
// Peer:     {"namespace": "ns", "labels": {...}, "namespaceLabels": {...}} for a pod, or {"ip": "203.0.113.7"} outside.
// Response: {"results": [{"id", "allowed", "ingress": <direction>, "egress": <direction>}]}
//
// A flow is allowed when the source's egress and the destination's ingress both allow it; a direction no policy
// selects allows everything, as in Kubernetes. Policies are refused where cyclonus v0.5.6 and Kubernetes disagree:
// a NotIn requirement (cyclonus treats a missing key as no match) and an empty matchLabels value.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/mattfenwick/cyclonus/pkg/matcher"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

type peer struct {
	Namespace       string            `json:"namespace,omitempty"`
	Labels          map[string]string `json:"labels,omitempty"`
	NamespaceLabels map[string]string `json:"namespaceLabels,omitempty"`
	IP              string            `json:"ip,omitempty"`
}

type flow struct {
	ID       string `json:"id"`
	From     peer   `json:"from"`
	To       peer   `json:"to"`
	Port     int    `json:"port"`
	PortName string `json:"portName,omitempty"`
	Protocol string `json:"protocol,omitempty"`
}

type request struct {
	Policies []networkingv1.NetworkPolicy `json:"policies"`
	Flows    []flow                       `json:"flows"`
}

type direction struct {
	Allowed  bool     `json:"allowed"`
	Selected bool     `json:"selected"`
	Allowing []string `json:"allowing"`
	Denying  []string `json:"denying"`
}

type result struct {
	ID      string     `json:"id"`
	Allowed bool       `json:"allowed"`
	Ingress *direction `json:"ingress,omitempty"`
	Egress  *direction `json:"egress,omitempty"`
	Error   string     `json:"error,omitempty"`
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "netpol: "+format+"\n", args...)
	os.Exit(2)
}

func unsupported(selector *metav1.LabelSelector) string {
	if selector == nil {
		return ""
	}
	for key, value := range selector.MatchLabels {
		if value == "" {
			return fmt.Sprintf("matchLabels %s with an empty value", key)
		}
	}
	for _, requirement := range selector.MatchExpressions {
		if requirement.Operator == metav1.LabelSelectorOpNotIn {
			return fmt.Sprintf("a NotIn requirement on %s", requirement.Key)
		}
	}
	return ""
}

func check(policy *networkingv1.NetworkPolicy) error {
	selectors := []*metav1.LabelSelector{&policy.Spec.PodSelector}
	for _, rule := range policy.Spec.Ingress {
		for i := range rule.From {
			selectors = append(selectors, rule.From[i].PodSelector, rule.From[i].NamespaceSelector)
		}
	}
	for _, rule := range policy.Spec.Egress {
		for i := range rule.To {
			selectors = append(selectors, rule.To[i].PodSelector, rule.To[i].NamespaceSelector)
		}
	}
	for _, selector := range selectors {
		if problem := unsupported(selector); problem != "" {
			return fmt.Errorf("%s/%s uses %s, which cyclonus evaluates unlike Kubernetes", policy.Namespace, policy.Name, problem)
		}
	}
	if len(policy.Spec.PolicyTypes) == 0 { // the API server's default
		policy.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
		if len(policy.Spec.Egress) > 0 {
			policy.Spec.PolicyTypes = append(policy.Spec.PolicyTypes, networkingv1.PolicyTypeEgress)
		}
	}
	return nil
}

func build(policies []*networkingv1.NetworkPolicy) (built *matcher.Policy, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("cyclonus refused the policies: %v", r)
		}
	}()
	return matcher.BuildNetworkPolicies(true, policies), nil
}

func trafficPeer(p peer) *matcher.TrafficPeer {
	if p.Namespace == "" {
		return &matcher.TrafficPeer{IP: p.IP}
	}
	namespaceLabels := map[string]string{"kubernetes.io/metadata.name": p.Namespace}
	for key, value := range p.NamespaceLabels {
		namespaceLabels[key] = value
	}
	labels := p.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	return &matcher.TrafficPeer{IP: p.IP, Internal: &matcher.InternalPeer{
		PodLabels: labels, NamespaceLabels: namespaceLabels, Namespace: p.Namespace}}
}

func names(targets []*matcher.Target) []string {
	found := map[string]bool{}
	for _, target := range targets {
		for _, policy := range target.SourceRules {
			found[policy.Namespace+"/"+policy.Name] = true
		}
	}
	out := []string{}
	for name := range found {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

func verdict(d *matcher.DirectionResult) *direction {
	return &direction{Allowed: d.IsAllowed(), Selected: len(d.AllowingTargets)+len(d.DenyingTargets) > 0,
		Allowing: names(d.AllowingTargets), Denying: names(d.DenyingTargets)}
}

func evaluate(policy *matcher.Policy, f flow) (out result) {
	out.ID = f.ID
	defer func() {
		if r := recover(); r != nil {
			out = result{ID: f.ID, Error: fmt.Sprint(r)}
		}
	}()
	protocol := strings.ToUpper(f.Protocol)
	if protocol == "" {
		protocol = "TCP"
	}
	answer := policy.IsTrafficAllowed(&matcher.Traffic{Source: trafficPeer(f.From), Destination: trafficPeer(f.To),
		ResolvedPort: f.Port, ResolvedPortName: f.PortName, Protocol: corev1.Protocol(protocol)})
	return result{ID: f.ID, Allowed: answer.IsAllowed(), Ingress: verdict(answer.Ingress), Egress: verdict(answer.Egress)}
}

func main() {
	var req request
	decoder := json.NewDecoder(os.Stdin)
	decoder.DisallowUnknownFields()
	if err := decoder.Decode(&req); err != nil {
		fail("bad request: %v", err)
	}
	policies := make([]*networkingv1.NetworkPolicy, len(req.Policies))
	for i := range req.Policies {
		policies[i] = &req.Policies[i]
		if err := check(policies[i]); err != nil {
			fail("%v", err)
		}
	}
	built, err := build(policies)
	if err != nil {
		fail("%v", err)
	}
	results := make([]result, 0, len(req.Flows))
	for _, f := range req.Flows {
		results = append(results, evaluate(built, f))
	}
	encoder := json.NewEncoder(os.Stdout)
	encoder.SetEscapeHTML(false)
	if err := encoder.Encode(map[string]interface{}{"results": results}); err != nil {
		fail("%v", err)
	}
}
