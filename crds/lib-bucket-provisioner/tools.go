//go:build tools

// Package tools pins the API types the ObjectBucketClaim CRDs are generated from (the pseudo-version Rook's
// API module requires), and controller-gen.
package tools

import (
	_ "github.com/kube-object-storage/lib-bucket-provisioner/pkg/apis/objectbucket.io/v1alpha1"
	_ "sigs.k8s.io/controller-tools/cmd/controller-gen"
)
