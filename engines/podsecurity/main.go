// podsecurity: Pod Security Standards verdicts for pod specs, computed by the Kubernetes API server's own admission
// library (k8s.io/pod-security-admission), with no cluster. Reads one JSON request on stdin, writes one JSON
// response on stdout.
//
// Request:  {"pods": [{"id", "level": "restricted|baseline|privileged", "metadata": <ObjectMeta>, "spec": <PodSpec>}]}
// Response: {"results": [{"id", "allowed", "violations": ["<reason>: <detail>", ...]}]}
package main

import (
	"encoding/json"
	"fmt"
	"os"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
)

type pod struct {
	ID       string            `json:"id"`
	Level    string            `json:"level"`
	Metadata metav1.ObjectMeta `json:"metadata"`
	Spec     corev1.PodSpec    `json:"spec"`
}

type result struct {
	ID         string   `json:"id"`
	Allowed    bool     `json:"allowed"`
	Violations []string `json:"violations"`
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "podsecurity: "+format+"\n", args...)
	os.Exit(2)
}

func main() {
	var req struct {
		Pods []pod `json:"pods"`
	}
	decoder := json.NewDecoder(os.Stdin)
	decoder.DisallowUnknownFields()
	if err := decoder.Decode(&req); err != nil {
		fail("bad request: %v", err)
	}
	evaluator, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		fail("%v", err)
	}
	results := make([]result, 0, len(req.Pods))
	for i := range req.Pods {
		p := &req.Pods[i]
		level, err := api.ParseLevel(p.Level)
		if err != nil {
			fail("pod %s: %v", p.ID, err)
		}
		checks := evaluator.EvaluatePod(api.LevelVersion{Level: level, Version: api.LatestVersion()}, &p.Metadata, &p.Spec)
		out := result{ID: p.ID, Allowed: true, Violations: []string{}}
		for _, check := range checks {
			if !check.Allowed {
				out.Allowed = false
				out.Violations = append(out.Violations, check.ForbiddenReason+": "+check.ForbiddenDetail)
			}
		}
		results = append(results, out)
	}
	encoder := json.NewEncoder(os.Stdout)
	encoder.SetEscapeHTML(false)
	if err := encoder.Encode(map[string]interface{}{"results": results}); err != nil {
		fail("%v", err)
	}
}
