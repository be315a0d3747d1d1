module openfoundry.local/crds/rook

go 1.26.0

require (
	github.com/rook/rook/pkg/apis v0.0.0-20250508184636-f6266772d209
	sigs.k8s.io/controller-tools v0.19.0
)
