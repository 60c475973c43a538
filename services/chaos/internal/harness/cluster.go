package harness

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/dropsync/dropsync/pkg/aliexpresssim"
	"github.com/dropsync/dropsync/pkg/config"
	"github.com/dropsync/dropsync/pkg/grpcauth"
	"github.com/dropsync/dropsync/pkg/grpcauth/devpki"
	"github.com/dropsync/dropsync/pkg/natsperm"
	"github.com/dropsync/dropsync/pkg/wixsim"
)

// Store identities of the run.
const (
	storeSlug     = "chaos"
	shopDomain    = "chaos-shop.myshopify.com"
	wixSiteID     = "5a7e0000-0000-4000-8000-00000000c4a0"
	wixInstanceID = "1e570000-0000-4000-8000-00000000c4a0"
	aeAppKey      = "chaos-app"
)

// Services are the dropsync services the harness kills at random.
var Services = []string{"orders", "notifier", "aliexpress", "shopify", "woocommerce", "wix"}

// binaries are the packages built for a run, by binary name.
var binaries = map[string]string{
	"nats-server":    "github.com/nats-io/nats-server/v2",
	"orders":         "./services/orders",
	"notifier":       "./services/notifier",
	"aliexpress":     "./services/aliexpress",
	"shopify":        "./services/shopify",
	"woocommerce":    "./services/woocommerce",
	"wix":            "./services/wix",
	"shopifysim":     "./services/shopify/cmd/shopifysim",
	"woocommercesim": "./services/woocommerce/cmd/woocommercesim",
	"wixsim":         "./services/wix/cmd/wixsim",
	"aliexpresssim":  "./services/aliexpress/cmd/aliexpresssim",
}

// Build builds every binary into dir with one go build in the workspace
// at root (nats-server from the module version pkg pins).
func Build(ctx context.Context, root, dir string) error {
	args := []string{"build", "-o", dir + string(os.PathSeparator)}
	for _, pkg := range binaries {
		args = append(args, pkg)
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	// From pkg, the module that requires nats-server; the workspace
	// resolves the services.
	cmd.Dir = filepath.Join(root, "pkg")
	for i, a := range cmd.Args {
		if strings.HasPrefix(a, "./services/") {
			cmd.Args[i] = "../" + strings.TrimPrefix(a, "./")
		}
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go build: %w\n%s", err, out)
	}
	return nil
}

// cluster is every process of a run and the addresses they use.
type cluster struct {
	dir, bin string
	ports    map[string]int
	secret   string
	procs    map[string]*Proc
	order    []string // start order
	aeToken  aliexpresssim.Token
	plan     Plan
	pki      devpki.Files // the run's CA and certificates: the services call each other over mTLS
	// natsPW are the NATS passwords of the run: one user per service
	// (pkg/natsperm) and harnessUser.
	natsPW natsperm.Passwords
}

// harnessUser is the harness's own NATS user (reading dead letters): it
// may do anything, as an operator's would; the services each log in as
// themselves, with the permissions a deployment gives them.
var harnessUser = natsperm.Identity{
	Name:      "chaos",
	Role:      "the chaos harness: reads what the services did",
	Publish:   []natsperm.Rule{{Subject: ">", Why: "the harness inspects everything"}},
	Subscribe: []natsperm.Rule{{Subject: ">", Why: "the harness inspects everything"}},
}

// freePorts reserves n loopback ports (the kernel's pick; released at once
// for the processes to bind).
func freePorts(names ...string) (map[string]int, error) {
	out := map[string]int{}
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	for _, n := range names {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("reserve a port: %w", err)
		}
		ls = append(ls, l)
		out[n] = l.Addr().(*net.TCPAddr).Port
	}
	return out, nil
}

func (c *cluster) addr(name string) string { return fmt.Sprintf("127.0.0.1:%d", c.ports[name]) }
func (c *cluster) url(name string) string  { return "http://" + c.addr(name) }

func newCluster(dir, bin string, plan Plan) (*cluster, error) {
	ports, err := freePorts("nats", "orders", "notifier", "aliexpress", "shopify", "woocommerce", "wix",
		"shopifysim", "woocommercesim", "wixsim", "aliexpresssim")
	if err != nil {
		return nil, err
	}
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	pki, err := devpki.Setup(filepath.Join(dir, "grpc"), append([]string{"operator"}, Services...)...)
	if err != nil {
		return nil, err
	}
	pw, err := natsperm.NewPasswords()
	if err != nil {
		return nil, err
	}
	pw[harnessUser.Name] = hex.EncodeToString(b) + "-harness"
	return &cluster{dir: dir, bin: bin, ports: ports, secret: hex.EncodeToString(b), procs: map[string]*Proc{}, plan: plan, pki: pki, natsPW: pw}, nil
}

// operator is how the harness calls the services: with the operator's
// certificate.
func (c *cluster) operator() ([]grpc.DialOption, error) {
	return grpcauth.DialOptions(config.GRPCClient{
		TLSCAFile: c.pki.CAFile, TLSCertFile: c.pki.CertFile("operator"), TLSKeyFile: c.pki.KeyFile("operator"),
	})
}

// grpcEnv secures a service's gRPC: its certificate, the CA it trusts,
// and, for a server, mTLS with the operator certificate an operator.
func (c *cluster) grpcEnv(name string) []string {
	roles := devpki.SPIFFEID("operator") + "=operator"
	for _, s := range Services {
		roles += "," + devpki.SPIFFEID(s) + "=service"
	}
	return []string{
		"DROPSYNC_GRPC_TLS_CERT_FILE=" + c.pki.CertFile(name), "DROPSYNC_GRPC_TLS_KEY_FILE=" + c.pki.KeyFile(name),
		"DROPSYNC_GRPC_TLS_CA_FILE=" + c.pki.CAFile, "DROPSYNC_GRPC_TLS_CLIENT_CA_FILE=" + c.pki.CAFile,
		"DROPSYNC_GRPC_CERT_ROLES=" + roles,
	}
}

func (c *cluster) add(name string, args []string, env ...string) *Proc {
	p := &Proc{Name: name, Bin: filepath.Join(c.bin, name), Args: args, Env: env, Log: filepath.Join(c.dir, name+".log")}
	c.procs[name] = p
	c.order = append(c.order, name)
	return p
}

// natsConfig writes nats-server's configuration: loopback, JetStream with
// every write fsynced (README, Durability), and the users and permissions
// of deploy/k8s/nats (pkg/natsperm) plus the harness's.
func (c *cluster) natsConfig() (string, error) {
	path := filepath.Join(c.dir, "nats.conf")
	conf := natsperm.ServerConfigWith(natsperm.ServerOptions{
		Listen: c.addr("nats"), StoreDir: filepath.Join(c.dir, "nats"), ServerName: "chaos",
		Extra: []natsperm.Identity{harnessUser},
	})
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		return "", fmt.Errorf("write nats config: %w", err)
	}
	return path, nil
}

// start starts nats-server, the simulators and the services, each once
// the ones it needs answer.
func (c *cluster) start(ctx context.Context) error {
	conf, err := c.natsConfig()
	if err != nil {
		return err
	}
	var pwEnv []string
	for name, pw := range c.natsPW {
		pwEnv = append(pwEnv, natsperm.PasswordEnv(name)+"="+pw)
	}
	if err := c.add("nats-server", []string{"-c", conf}, pwEnv...).Start(); err != nil {
		return err
	}
	if err := waitTCP(ctx, c.addr("nats")); err != nil {
		return fmt.Errorf("nats-server: %w", err)
	}
	faults := fmt.Sprint(c.plan.Faults)
	storeEnv := c.storeEnv()
	sims := []struct {
		name string
		args []string
	}{
		{"aliexpresssim", []string{"-addr", c.addr("aliexpresssim"), "-faults", faults}},
		{"shopifysim", []string{"-addr", c.addr("shopifysim"), "-webhooks", c.url("shopify") + "/webhooks/shopify", "-faults", faults,
			"-retries", "1s,2s,4s,8s,15s,30s,60s,120s"}},
		{"wixsim", []string{"-addr", c.addr("wixsim"), "-webhooks", c.url("wix") + "/webhooks/wix", "-faults", faults, "-retry-scale", "0.005"}},
	}
	for _, s := range sims {
		if err := c.add(s.name, s.args, storeEnv...).Start(); err != nil {
			return err
		}
	}
	if err := getJSON(ctx, c.url("aliexpresssim")+"/_sim/token", &c.aeToken, 30*time.Second); err != nil {
		return fmt.Errorf("aliexpresssim: %w", err)
	}
	var key wixsim.PublicKey
	if err := getJSON(ctx, c.url("wixsim")+"/_sim/public-key", &key, 30*time.Second); err != nil {
		return fmt.Errorf("wixsim: %w", err)
	}
	if err := waitHTTP(ctx, c.url("shopifysim")+"/_sim/stats"); err != nil {
		return fmt.Errorf("shopifysim: %w", err)
	}
	for _, name := range Services {
		if err := c.add(name, nil, c.serviceEnv(name, key.PEM)...).Start(); err != nil {
			return err
		}
	}
	if err := c.waitServices(ctx); err != nil {
		return err
	}
	// WooCommerce pings the connector when its webhooks are registered.
	if err := c.add("woocommercesim", []string{"-addr", c.addr("woocommercesim"), "-webhooks", c.url("woocommerce") + "/webhooks/woocommerce", "-faults", faults},
		storeEnv...).Start(); err != nil {
		return err
	}
	return waitHTTP(ctx, c.url("woocommercesim")+"/_sim/stats")
}

// storeEnv is what the simulators and the connectors both read: the store
// lists and their credentials (fresh for the run).
func (c *cluster) storeEnv() []string {
	woo, _ := json.Marshal([]map[string]string{{"slug": storeSlug, "site_url": c.url("woocommercesim"), "credentials_ref": "env:CHAOS_WOO"}})
	wix, _ := json.Marshal([]map[string]string{{"slug": storeSlug, "site_id": wixSiteID, "instance_id": wixInstanceID, "credentials_env": "CHAOS_WIX_TOKEN"}})
	return []string{
		"DROPSYNC_SHOPIFY_STORES=" + storeSlug + "=" + shopDomain,
		"DROPSYNC_SHOPIFY_STORE_CHAOS_ACCESS_TOKEN=shpat_" + c.secret,
		"DROPSYNC_SHOPIFY_STORE_CHAOS_WEBHOOK_SECRET=" + c.secret,
		"DROPSYNC_WOOCOMMERCE_STORES=" + string(woo),
		"CHAOS_WOO_CONSUMER_KEY=ck_" + c.secret, "CHAOS_WOO_CONSUMER_SECRET=cs_" + c.secret, "CHAOS_WOO_WEBHOOK_SECRET=" + c.secret,
		"DROPSYNC_WIX_STORES=" + string(wix),
		"CHAOS_WIX_TOKEN=wix-" + c.secret,
		"DROPSYNC_ALIEXPRESS_APP_KEY=" + aeAppKey, "DROPSYNC_ALIEXPRESS_APP_SECRET=" + c.secret,
	}
}

// serviceEnv configures one service through its DROPSYNC_* variables.
// The few changed from the defaults are listed, with the reason, in the
// package doc.
func (c *cluster) serviceEnv(name, wixKey string) []string {
	env := append([]string{"DROPSYNC_NATS_URL=nats://" + c.addr("nats"),
		"DROPSYNC_NATS_USER=" + name, "DROPSYNC_NATS_PASSWORD=" + c.natsPW[name],
		// Several services on one host: each gets a free ops port.
		"DROPSYNC_OPS_ADDR=127.0.0.1:0"}, c.grpcEnv(name)...)
	switch name {
	case "orders":
		env = append(env, "DROPSYNC_GRPC_ADDR="+c.addr("orders"))
	case "notifier":
		env = append(env, "DROPSYNC_GRPC_ADDR="+c.addr("notifier"), "DROPSYNC_NOTIFIER_ORDERS_ADDR="+c.addr("orders"))
	case "aliexpress":
		env = append(env, "DROPSYNC_GRPC_ADDR="+c.addr("aliexpress"),
			"DROPSYNC_ALIEXPRESS_APP_KEY="+aeAppKey, "DROPSYNC_ALIEXPRESS_APP_SECRET="+c.secret,
			"DROPSYNC_ALIEXPRESS_ACCESS_TOKEN="+c.aeToken.AccessToken, "DROPSYNC_ALIEXPRESS_REFRESH_TOKEN="+c.aeToken.RefreshToken,
			"DROPSYNC_ALIEXPRESS_GATEWAY_URL="+c.url("aliexpresssim"),
			// Faster clocks: days of supplier activity in minutes.
			"DROPSYNC_ALIEXPRESS_POLL_INTERVAL=1s", "DROPSYNC_ALIEXPRESS_MIN_INTERVAL=5s", "DROPSYNC_ALIEXPRESS_DAILY_BUDGET=2000000")
	case "shopify":
		env = append(env, c.storeEnv()...)
		env = append(env, "DROPSYNC_SHOPIFY_ADDR="+c.addr("shopify"), "DROPSYNC_SHOPIFY_API_BASE_URL="+c.url("shopifysim")+"/{shop}",
			"DROPSYNC_SHOPIFY_ORDERS_ADDR="+c.addr("orders"), "DROPSYNC_SHOPIFY_NOTIFIER_ADDR="+c.addr("notifier"),
			"DROPSYNC_SHOPIFY_RECONCILE_INTERVAL=20s") // faster clock: lost webhooks found within the run
	case "woocommerce":
		env = append(env, c.storeEnv()...)
		env = append(env, "DROPSYNC_WOOCOMMERCE_WEBHOOK_ADDR="+c.addr("woocommerce"),
			"DROPSYNC_WOOCOMMERCE_ORDERS_ADDR="+c.addr("orders"), "DROPSYNC_WOOCOMMERCE_NOTIFIER_ADDR="+c.addr("notifier"),
			"DROPSYNC_WOOCOMMERCE_RECONCILE_INTERVAL=20s") // faster clock
	case "wix":
		env = append(env, c.storeEnv()...)
		env = append(env, "DROPSYNC_WIX_WEBHOOK_ADDR="+c.addr("wix"), "DROPSYNC_WIX_PUBLIC_KEY="+wixKey,
			"DROPSYNC_WIX_BASE_URL="+c.url("wixsim"), "DROPSYNC_WIX_NOTIFIER_ADDR="+c.addr("notifier"),
			"DROPSYNC_WIX_RECONCILE_INTERVAL=20s") // faster clock
	}
	return env
}

// waitServices waits until every service answers its health check.
func (c *cluster) waitServices(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for _, name := range []string{"orders", "notifier", "aliexpress"} {
		if err := c.waitGRPC(ctx, c.addr(name)); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	for _, name := range []string{"shopify", "woocommerce", "wix"} {
		if err := waitHTTP(ctx, c.url(name)+"/healthz"); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

// stop stops every process, services first.
func (c *cluster) stop() {
	for i := len(c.order) - 1; i >= 0; i-- {
		c.procs[c.order[i]].Stop(15 * time.Second)
	}
}

func waitTCP(ctx context.Context, addr string) error {
	return poll(ctx, time.Minute, func() error {
		dctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		conn, err := (&net.Dialer{}).DialContext(dctx, "tcp", addr)
		if err != nil {
			return err
		}
		return conn.Close()
	})
}

func waitHTTP(ctx context.Context, url string) error {
	return poll(ctx, time.Minute, func() error { return do(ctx, http.MethodGet, url, nil, nil) })
}

func (c *cluster) waitGRPC(ctx context.Context, addr string) error {
	opts, err := c.operator()
	if err != nil {
		return err
	}
	conn, err := grpc.NewClient(addr, opts...)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }()
	h := healthpb.NewHealthClient(conn)
	return poll(ctx, time.Minute, func() error {
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		r, err := h.Check(cctx, &healthpb.HealthCheckRequest{})
		if err != nil {
			return err
		}
		if r.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			return fmt.Errorf("health %v", r.GetStatus())
		}
		return nil
	})
}

// poll calls f every 100 ms until it succeeds, limit passes or ctx ends.
func poll(ctx context.Context, limit time.Duration, f func() error) error {
	deadline := time.Now().Add(limit)
	for {
		err := f()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("still %w after %v", err, limit)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %w)", ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// WorkspaceRoot is the folder of the go.work this build runs in.
func WorkspaceRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOWORK").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOWORK: %w", err)
	}
	work := strings.TrimSpace(string(out))
	if work == "" || work == "off" {
		return "", fmt.Errorf("not in a Go workspace (go env GOWORK is %q)", work)
	}
	return filepath.Dir(work), nil
}
