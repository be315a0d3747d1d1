// The cert-manager controller as the rehearsal cluster runs it (ops/rehearsal/controllers.py).
//
// The module that holds cert-manager's own main (github.com/cert-manager/cert-manager/controller-binary) is not
// served by the Go module proxy here; its root module is, at the chart's pin. This command runs that module's
// controllers the way controller-binary's app.Run does at v1.20.2 (cmd/controller/app/controller.go): one
// controller.ContextFactory, leader election on a Lease named cert-manager-controller, then every enabled
// controller from controller.Known() and the shared informers. The controllers are the ones the stack's issuers
// need (self-signed and CA); ACME, Vault and Venafi stay out (no issuer of the rehearsal uses them, and ACME needs
// the internet), and so do the ingress and gateway shims (the stack writes its Certificates itself) and the
// metrics and health servers.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/cert-manager/cert-manager/pkg/controller"
	logf "github.com/cert-manager/cert-manager/pkg/logs"
	"golang.org/x/sync/errgroup"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/klog/v2"

	crapprover "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/approver"
	crca "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/ca"
	crselfsigned "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/selfsigned"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/issuing"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/keymanager"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/readiness"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/requestmanager"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/revisionmanager"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/trigger"
	"github.com/cert-manager/cert-manager/pkg/controller/clusterissuers"
	"github.com/cert-manager/cert-manager/pkg/controller/issuers"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/ca"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/selfsigned"
)

// the controllers this command runs: the chart's defaults (internal/apis/config/controller/v1alpha1/defaults.go
// DefaultEnabledControllers) that the self-signed and CA issuers use
var enabled = []string{
	issuers.ControllerName, clusterissuers.ControllerName,
	crapprover.ControllerName, crca.CRControllerName, crselfsigned.CRControllerName,
	trigger.ControllerName, issuing.ControllerName, keymanager.ControllerName,
	requestmanager.ControllerName, readiness.ControllerName, revisionmanager.ControllerName,
}

type options struct {
	kubeconfig, clusterResourceNamespace, leaderElectionNamespace string
	leaderElect                                                   bool
	leaseDuration, renewDeadline, retryPeriod                     time.Duration
	workers                                                       int
}

// the flags keep the names and defaults of controller-binary's (cmd/controller/app/options/options.go and the
// defaults file above)
func parseFlags() options {
	var o options
	flag.StringVar(&o.kubeconfig, "kubeconfig", "", "Path to a kubeconfig (out of cluster).")
	flag.StringVar(&o.clusterResourceNamespace, "cluster-resource-namespace", "kube-system",
		"Namespace to store resources owned by cluster scoped resources such as ClusterIssuer in.")
	flag.BoolVar(&o.leaderElect, "leader-elect", true, "Whether to take the leader's Lease before running.")
	flag.StringVar(&o.leaderElectionNamespace, "leader-election-namespace", "kube-system", "Namespace of the Lease.")
	flag.DurationVar(&o.leaseDuration, "leader-election-lease-duration", 60*time.Second, "Lease duration.")
	flag.DurationVar(&o.renewDeadline, "leader-election-renew-deadline", 40*time.Second, "Renew deadline.")
	flag.DurationVar(&o.retryPeriod, "leader-election-retry-period", 15*time.Second, "Retry period.")
	flag.IntVar(&o.workers, "concurrent-workers", 5, "Workers per controller.")
	klog.InitFlags(nil) // -v, as the chart passes it
	logf.InitLogs()
	flag.Parse()
	return o
}

func main() {
	o := parseFlags()
	defer logf.FlushLogs()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ctx = logf.NewContext(ctx, logf.Log, "controller")
	if err := run(ctx, o); err != nil {
		logf.Log.Error(err, "cert-manager controller stopped")
		os.Exit(1)
	}
}

func run(rootCtx context.Context, o options) error {
	log := logf.FromContext(rootCtx)
	factory, err := controller.NewContextFactory(rootCtx, controller.ContextOptions{
		Kubeconfig: o.kubeconfig, KubernetesAPIQPS: 20, KubernetesAPIBurst: 50,
		IssuerOptions: controller.IssuerOptions{
			ClusterResourceNamespace: o.clusterResourceNamespace, ClusterIssuerAmbientCredentials: true,
		},
		CertificateOptions: controller.CertificateOptions{
			CopiedAnnotationPrefixes:                 []string{"*", "-kubectl.kubernetes.io/", "-fluxcd.io/", "-argocd.argoproj.io/"},
			CertificateRequestMinimumBackoffDuration: time.Hour,
		},
		SchedulerOptions: controller.SchedulerOptions{MaxConcurrentChallenges: 60},
	})
	if err != nil {
		return err
	}
	base, err := factory.Build()
	if err != nil {
		return err
	}
	if o.leaderElect {
		if err := lead(rootCtx, o, factory); err != nil {
			return err
		}
	}
	g, ctx := errgroup.WithContext(rootCtx)
	known := controller.Known()
	for _, name := range enabled {
		construct, ok := known[name]
		if !ok {
			return fmt.Errorf("controller %q is not registered by the packages this command imports", name)
		}
		iface, err := construct(factory)
		if err != nil {
			return fmt.Errorf("error starting controller %s: %w", name, err)
		}
		g.Go(func() error { return iface.Run(o.workers, ctx) })
	}
	log.Info("enabled controllers: " + strings.Join(enabled, ", "))
	base.SharedInformerFactory.Start(ctx.Done())
	base.KubeSharedInformerFactory.Start(ctx.Done())
	base.HTTP01ResourceMetadataInformersFactory.Start(ctx.Done())
	return g.Wait()
}

// lead blocks until this process holds the Lease (as controller-binary names and labels it), and stops the whole
// command when it loses it
func lead(ctx context.Context, o options, factory *controller.ContextFactory) error {
	leCtx, err := factory.Build("leader-election")
	if err != nil {
		return err
	}
	host, err := os.Hostname()
	if err != nil {
		return err
	}
	lock, err := resourcelock.NewWithLabels(resourcelock.LeasesResourceLock, o.leaderElectionNamespace,
		"cert-manager-controller", leCtx.Client.CoreV1(), leCtx.Client.CoordinationV1(),
		resourcelock.ResourceLockConfig{Identity: host + "-external-cert-manager-controller", EventRecorder: leCtx.Recorder},
		map[string]string{"app.kubernetes.io/managed-by": "cert-manager"})
	if err != nil {
		return fmt.Errorf("error creating leader election lock: %w", err)
	}
	elected := make(chan struct{})
	elector, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock: lock, LeaseDuration: o.leaseDuration, RenewDeadline: o.renewDeadline, RetryPeriod: o.retryPeriod,
		ReleaseOnCancel: true,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(context.Context) { close(elected) },
			OnStoppedLeading: func() {
				if ctx.Err() == nil {
					logf.Log.Info("leader election lost")
					os.Exit(1)
				}
			},
		},
	})
	if err != nil {
		return err
	}
	go elector.Run(ctx)
	select {
	case <-elected:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
