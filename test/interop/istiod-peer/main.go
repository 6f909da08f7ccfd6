// Command istiod-peer is interop test code, not product code. It runs istio's real discovery
// server (istio.io/istio pilot/test/xds, the DiscoveryServer with its push queue, debounce,
// generators, auto-registration and health controllers over a fake Kubernetes client) on a real
// TCP port, so xdsim and its agents can be compared with and run against istiod itself.
//
// It prints one JSON line on stdout once serving:
//
//	{"ready":true,"xds":"127.0.0.1:PORT","admin":"127.0.0.1:PORT"}
//
// Everything else (istio's logs, ours) goes to stderr. SIGTERM or SIGINT stops it.
//
// Flags: run with -h. Admin HTTP: POST /apply, POST /delete (YAML bodies),
// GET /workloadentries, GET /ready, GET /metrics, /debug/* (istiod's debug handlers).
//
// Authentication: with --jwt-public-key or --jwks, xDS streams are authenticated the way istiod
// authenticates on its TLS port (a bearer JWT whose sub is system:serviceaccount:<ns>:<sa>).
// The peer serves plaintext, so it sets istio's XDS_AUTH_PLAINTEXT: every stream must then carry
// a valid token, like istiod's 15012 for a client without a certificate. Without a key there is
// no authentication at all (istiod's plaintext 15010), and auto-registration then needs
// --validate-identity=false.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
	sigyaml "sigs.k8s.io/yaml"

	"google.golang.org/grpc"
	"google.golang.org/grpc/test/bufconn"
	"istio.io/istio/pilot/pkg/config/kube/crd"
	"istio.io/istio/pilot/pkg/features"
	istiogrpc "istio.io/istio/pilot/pkg/grpc"
	"istio.io/istio/pilot/test/xds"
	"istio.io/istio/pkg/config"
	"istio.io/istio/pkg/config/mesh"
	"istio.io/istio/pkg/config/mesh/meshwatcher"
	"istio.io/istio/pkg/config/schema/collections"
	"istio.io/istio/pkg/config/schema/gvk"
	"istio.io/istio/pkg/config/schema/resource"
	istiokeepalive "istio.io/istio/pkg/keepalive"
	kubelib "istio.io/istio/pkg/kube"
	istiolog "istio.io/istio/pkg/log"
	"istio.io/istio/pkg/monitoring"
	"istio.io/istio/pkg/security"
	xdspkg "istio.io/istio/pkg/xds"
)

// The cluster DNS domain, as istiod's default --domain.
const domainSuffix = "cluster.local"

// ---- a test.Failer for use outside `go test` ------------------------------------------------

type failer struct {
	mu       sync.Mutex
	cleanups []func()
	tmpDirs  []string
}

func (f *failer) Fail()                          { logf("failer: Fail called") }
func (f *failer) FailNow()                       { f.die("FailNow called") }
func (f *failer) Helper()                        {}
func (f *failer) Log(a ...any)                   { logf("%s", fmt.Sprint(a...)) }
func (f *failer) Logf(format string, a ...any)   { logf(format, a...) }
func (f *failer) Fatal(a ...any)                 { f.die(fmt.Sprint(a...)) }
func (f *failer) Fatalf(format string, a ...any) { f.die(fmt.Sprintf(format, a...)) }
func (f *failer) Skip(a ...any)                  { f.die("skip: " + fmt.Sprint(a...)) }

func (f *failer) TempDir() string {
	d, err := os.MkdirTemp("", "istiod-peer-")
	if err != nil {
		f.die(err.Error())
	}
	f.mu.Lock()
	f.tmpDirs = append(f.tmpDirs, d)
	f.mu.Unlock()
	return d
}

func (f *failer) Cleanup(fn func()) {
	f.mu.Lock()
	f.cleanups = append(f.cleanups, fn)
	f.mu.Unlock()
}

// runCleanups runs the registered cleanups last-first, as testing.T does.
func (f *failer) runCleanups() {
	f.mu.Lock()
	fns := f.cleanups
	f.cleanups = nil
	dirs := f.tmpDirs
	f.tmpDirs = nil
	f.mu.Unlock()
	for i := len(fns) - 1; i >= 0; i-- {
		fns[i]()
	}
	for _, d := range dirs {
		_ = os.RemoveAll(d)
	}
}

// die is Fatal: istio's fake server only calls it while starting or when its gRPC server breaks.
func (f *failer) die(msg string) {
	logf("fatal: %s", msg)
	os.Exit(1)
}

func logf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "istiod-peer: "+format+"\n", a...)
}

// ---- flags -----------------------------------------------------------------------------------

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

type options struct {
	files            multiFlag
	xdsAddress       string
	adminAddress     string
	debounce         time.Duration
	maxRPS           float64
	meshNetworks     string
	jwtPublicKey     string
	jwks             string
	jwtAudience      multiFlag
	validateIdentity bool
	sendUnhealthy    bool
	gracePeriod      time.Duration
	exitOnStdinEOF   bool
	keepalive        istiokeepalive.Options
}

func parseFlags() *options {
	o := &options{}
	fl := flag.CommandLine
	fl.Var(&o.files, "f", "YAML file or directory (repeatable; directories are read recursively for .yaml/.yml)")
	fl.StringVar(&o.xdsAddress, "xds-address", "127.0.0.1:0", "address of the plaintext xDS (ADS) gRPC server")
	fl.StringVar(&o.adminAddress, "admin-address", "127.0.0.1:0", "address of the admin HTTP server")
	fl.DurationVar(&o.debounce, "debounce", 100*time.Millisecond, "PILOT_DEBOUNCE_AFTER (istiod's default 100ms; the fake server's own default is 0)")
	fl.Float64Var(&o.maxRPS, "max-requests-per-second", 10000,
		"PILOT_MAX_REQUESTS_PER_SECOND, new xDS streams per second; istiod derives 25/s on 2 cores, the peer raises it so fan-out and storms compare fairly")
	fl.StringVar(&o.meshNetworks, "mesh-networks", "", "meshNetworks YAML file (gateways by address)")
	fl.StringVar(&o.jwtPublicKey, "jwt-public-key", "", "PEM public key (SPKI) that verifies xDS bearer tokens")
	fl.StringVar(&o.jwks, "jwks", "", "JWKS JSON file whose keys verify xDS bearer tokens")
	fl.Var(&o.jwtAudience, "jwt-audience", "accepted token audience (repeatable; default istio-ca)")
	fl.BoolVar(&o.validateIdentity, "validate-identity", true, "ISTIO_WORKLOAD_ENTRY_VALIDATE_IDENTITY: auto-registration and health reports need a verified identity")
	fl.BoolVar(&o.sendUnhealthy, "send-unhealthy", false, "PILOT_SEND_UNHEALTHY_ENDPOINTS")
	fl.DurationVar(&o.gracePeriod, "grace-period", 10*time.Second, "PILOT_WORKLOAD_ENTRY_GRACE_PERIOD: how long a disconnected auto-registered entry stays")
	// istiod's own defaults (pkg/keepalive.DefaultOption: 30 s / 10 s, no connection age limit).
	o.keepalive = *istiokeepalive.DefaultOption()
	fl.DurationVar(&o.keepalive.Time, "keepalive-interval", o.keepalive.Time, "istiod's --keepaliveInterval: the server pings an idle connection this often")
	fl.DurationVar(&o.keepalive.Timeout, "keepalive-timeout", o.keepalive.Timeout, "istiod's --keepaliveTimeout: and closes it when a ping is not answered within this")
	fl.BoolVar(&o.exitOnStdinEOF, "exit-on-stdin-eof", false, "stop when stdin closes (a launcher's pipe: the peer never outlives its parent)")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "istiod-peer: unexpected arguments %v\n", flag.Args())
		os.Exit(2)
	}
	if len(o.jwtAudience) == 0 {
		o.jwtAudience = multiFlag{"istio-ca"}
	}
	return o
}

// ---- YAML documents ----------------------------------------------------------------------------

type doc struct {
	source string // file name or "request", for messages
	index  int
	raw    []byte
	meta   docMeta
}

type docMeta struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
}

func (d doc) String() string {
	return fmt.Sprintf("%s document %d (%s %s/%s)", d.source, d.index, d.meta.Kind, d.meta.Metadata.Namespace, d.meta.Metadata.Name)
}

func (d doc) group() string {
	gv, err := schema.ParseGroupVersion(d.meta.APIVersion)
	if err != nil {
		return ""
	}
	return gv.Group
}

func (d doc) isIstio() bool { return strings.HasSuffix(d.group(), "istio.io") }

func (d doc) isCore() bool {
	if d.meta.APIVersion != "v1" {
		return false
	}
	switch d.meta.Kind {
	case "Service", "Namespace", "ServiceAccount":
		return true
	}
	return false
}

// splitDocs reads a multi-document YAML stream; empty documents (comments only) are dropped.
func splitDocs(source string, data []byte) ([]doc, error) {
	r := k8syaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var out []doc
	for i := 1; ; i++ {
		raw, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s document %d: %v", source, i, err)
		}
		var m docMeta
		if err := sigyaml.Unmarshal(raw, &m); err != nil {
			return nil, fmt.Errorf("%s document %d: %v", source, i, err)
		}
		if m.APIVersion == "" && m.Kind == "" && len(bytes.TrimSpace(stripComments(raw))) == 0 {
			continue
		}
		if m.Kind == "" {
			return nil, fmt.Errorf("%s document %d: no kind", source, i)
		}
		out = append(out, doc{source: source, index: i, raw: raw, meta: m})
	}
}

func stripComments(b []byte) []byte {
	var out []byte
	for _, line := range bytes.Split(b, []byte("\n")) {
		t := bytes.TrimSpace(line)
		if len(t) == 0 || t[0] == '#' || string(t) == "---" {
			continue
		}
		out = append(out, line...)
		out = append(out, '\n')
	}
	return out
}

func readInputs(paths []string) ([]doc, error) {
	var files []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && (strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Strings(files)
	var docs []doc
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		d, err := splitDocs(f, data)
		if err != nil {
			return nil, err
		}
		docs = append(docs, d...)
	}
	return docs, nil
}

// ---- JWT authentication, as istiod's JWT authenticator does it ----------------------------

type jwtAuthenticator struct {
	keys      []jose.JSONWebKey
	audiences []string
}

func newJWTAuthenticator(pemFile, jwksFile string, audiences []string) (*jwtAuthenticator, error) {
	a := &jwtAuthenticator{audiences: audiences}
	if pemFile != "" {
		data, err := os.ReadFile(pemFile)
		if err != nil {
			return nil, err
		}
		block, _ := pem.Decode(data)
		if block == nil {
			return nil, fmt.Errorf("%s: no PEM block", pemFile)
		}
		pub, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", pemFile, err)
		}
		a.keys = append(a.keys, jose.JSONWebKey{Key: pub})
	}
	if jwksFile != "" {
		data, err := os.ReadFile(jwksFile)
		if err != nil {
			return nil, err
		}
		var set jose.JSONWebKeySet
		if err := json.Unmarshal(data, &set); err != nil {
			return nil, fmt.Errorf("%s: %v", jwksFile, err)
		}
		a.keys = append(a.keys, set.Keys...)
	}
	if len(a.keys) == 0 {
		return nil, errors.New("no JWT verification keys")
	}
	return a, nil
}

func (a *jwtAuthenticator) AuthenticatorType() string { return "xdsim-peer-jwt" }

func (a *jwtAuthenticator) Authenticate(ctx security.AuthContext) (*security.Caller, error) {
	if ctx.GrpcContext == nil {
		return nil, errors.New("not a gRPC request")
	}
	token, err := security.ExtractBearerToken(ctx.GrpcContext)
	if err != nil {
		return nil, fmt.Errorf("bearer token: %v", err)
	}
	ns, sa, err := a.verify(token, time.Now())
	if err != nil {
		return nil, err
	}
	return &security.Caller{
		AuthSource: security.AuthSourceIDToken,
		Identities: []string{fmt.Sprintf("spiffe://cluster.local/ns/%s/sa/%s", ns, sa)},
	}, nil
}

func (a *jwtAuthenticator) verify(token string, now time.Time) (ns, sa string, err error) {
	tok, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil {
		return "", "", fmt.Errorf("token is not a signed JWT: %v", err)
	}
	kid := ""
	if len(tok.Headers) > 0 {
		kid = tok.Headers[0].KeyID
	}
	var claims jwt.Claims
	verified := false
	for _, k := range a.keys {
		if kid != "" && k.KeyID != "" && k.KeyID != kid {
			continue
		}
		if err := tok.Claims(k.Key, &claims); err == nil {
			verified = true
			break
		}
	}
	if !verified {
		return "", "", errors.New("token signature does not verify against the configured keys")
	}
	if claims.Expiry == nil {
		return "", "", errors.New("token has no exp")
	}
	if err := claims.ValidateWithLeeway(jwt.Expected{AnyAudience: a.audiences, Time: now}, 30*time.Second); err != nil {
		return "", "", fmt.Errorf("token rejected: %v", err)
	}
	parts := strings.Split(claims.Subject, ":")
	if len(parts) != 4 || parts[0] != "system" || parts[1] != "serviceaccount" || parts[2] == "" || parts[3] == "" {
		return "", "", fmt.Errorf("invalid sub %q: want system:serviceaccount:<ns>:<sa>", claims.Subject)
	}
	return parts[2], parts[3], nil
}

// ---- the admin server ---------------------------------------------------------------------------

type peer struct {
	fake *xds.FakeDiscoveryServer
	mu   sync.Mutex // serializes /apply and /delete
}

func (p *peer) applyDocs(docs []doc) (int, error) {
	// Parse everything first, so a bad document applies nothing.
	type istioItem struct {
		d   doc
		cfg config.Config
	}
	var istio []istioItem
	var core []doc
	for _, d := range docs {
		switch {
		case d.isIstio():
			cfgs, _, err := crd.ParseInputs(string(d.raw))
			if err != nil {
				return 0, fmt.Errorf("%s: %v", d, err)
			}
			if len(cfgs) != 1 {
				return 0, fmt.Errorf("%s: kind not known to istiod", d)
			}
			// istiod's Kubernetes config client stamps every config with the domain suffix, which
			// short DestinationRule hosts resolve against; crd.ParseInputs leaves it empty.
			cfgs[0].Domain = domainSuffix
			istio = append(istio, istioItem{d, cfgs[0]})
		case d.isCore():
			core = append(core, d)
		default:
			return 0, fmt.Errorf("%s: kind not supported by the peer (Istio kinds and core v1 Service, Namespace, ServiceAccount are)", d)
		}
	}
	n := 0
	kc := p.fake.KubeClient().Kube().CoreV1()
	ctx := context.Background()
	for _, d := range core {
		obj, _, err := kubelib.IstioCodec.UniversalDeserializer().Decode(d.raw, nil, nil)
		if err != nil {
			return n, fmt.Errorf("%s: %v", d, err)
		}
		switch o := obj.(type) {
		case *corev1.Namespace:
			if cur, err := kc.Namespaces().Get(ctx, o.Name, metav1.GetOptions{}); err == nil {
				o.ResourceVersion = cur.ResourceVersion
				_, err = kc.Namespaces().Update(ctx, o, metav1.UpdateOptions{})
				if err != nil {
					return n, fmt.Errorf("%s: %v", d, err)
				}
			} else if _, err := kc.Namespaces().Create(ctx, o, metav1.CreateOptions{}); err != nil {
				return n, fmt.Errorf("%s: %v", d, err)
			}
		case *corev1.Service:
			if o.Namespace == "" {
				o.Namespace = "default"
			}
			defaultServicePorts(o)
			svcs := kc.Services(o.Namespace)
			if cur, err := svcs.Get(ctx, o.Name, metav1.GetOptions{}); err == nil {
				o.ResourceVersion = cur.ResourceVersion
				if _, err := svcs.Update(ctx, o, metav1.UpdateOptions{}); err != nil {
					return n, fmt.Errorf("%s: %v", d, err)
				}
			} else if _, err := svcs.Create(ctx, o, metav1.CreateOptions{}); err != nil {
				return n, fmt.Errorf("%s: %v", d, err)
			}
		case *corev1.ServiceAccount:
			if o.Namespace == "" {
				o.Namespace = "default"
			}
			sas := kc.ServiceAccounts(o.Namespace)
			if cur, err := sas.Get(ctx, o.Name, metav1.GetOptions{}); err == nil {
				o.ResourceVersion = cur.ResourceVersion
				if _, err := sas.Update(ctx, o, metav1.UpdateOptions{}); err != nil {
					return n, fmt.Errorf("%s: %v", d, err)
				}
			} else if _, err := sas.Create(ctx, o, metav1.CreateOptions{}); err != nil {
				return n, fmt.Errorf("%s: %v", d, err)
			}
		default:
			return n, fmt.Errorf("%s: decoded to %T", d, obj)
		}
		n++
	}
	store := p.fake.Store()
	for _, it := range istio {
		cfg := it.cfg
		if cfg.Namespace == "" {
			cfg.Namespace = "default"
		}
		cur := store.Get(cfg.GroupVersionKind, cfg.Name, cfg.Namespace)
		var err error
		if cur == nil {
			_, err = store.Create(cfg)
		} else {
			cfg.ResourceVersion = cur.ResourceVersion
			if cfg.Status == nil {
				cfg.Status = cur.Status
			}
			_, err = store.Update(cfg)
		}
		if err != nil {
			return n, fmt.Errorf("%s: %v", it.d, err)
		}
		n++
	}
	return n, nil
}

func (p *peer) deleteDocs(docs []doc) (int, error) {
	n := 0
	ctx := context.Background()
	kc := p.fake.KubeClient().Kube().CoreV1()
	for _, d := range docs {
		name, ns := d.meta.Metadata.Name, d.meta.Metadata.Namespace
		if name == "" {
			return n, fmt.Errorf("%s: no metadata.name", d)
		}
		if ns == "" && d.meta.Kind != "Namespace" {
			ns = "default"
		}
		var err error
		switch {
		case d.isIstio():
			gv, _ := schema.ParseGroupVersion(d.meta.APIVersion)
			kgvk := gv.WithKind(d.meta.Kind)
			s, ok := collections.PilotGatewayAPI().FindByGroupVersionAliasesKind(resource.FromKubernetesGVK(&kgvk))
			if !ok {
				return n, fmt.Errorf("%s: kind not known to istiod", d)
			}
			err = p.fake.Store().Delete(s.GroupVersionKind(), name, ns, nil)
		case d.isCore() && d.meta.Kind == "Namespace":
			err = kc.Namespaces().Delete(ctx, name, metav1.DeleteOptions{})
		case d.isCore() && d.meta.Kind == "Service":
			err = kc.Services(ns).Delete(ctx, name, metav1.DeleteOptions{})
		case d.isCore() && d.meta.Kind == "ServiceAccount":
			err = kc.ServiceAccounts(ns).Delete(ctx, name, metav1.DeleteOptions{})
		default:
			return n, fmt.Errorf("%s: kind not supported by the peer", d)
		}
		if err != nil && !apierrors.IsNotFound(err) {
			return n, fmt.Errorf("%s: %v", d, err)
		}
		n++
	}
	return n, nil
}

type objectMeta struct {
	Name              string                  `json:"name"`
	Namespace         string                  `json:"namespace"`
	Labels            map[string]string       `json:"labels,omitempty"`
	Annotations       map[string]string       `json:"annotations,omitempty"`
	OwnerReferences   []metav1.OwnerReference `json:"ownerReferences,omitempty"`
	ResourceVersion   string                  `json:"resourceVersion,omitempty"`
	Generation        int64                   `json:"generation,omitempty"`
	CreationTimestamp string                  `json:"creationTimestamp,omitempty"`
}

type kubeObject struct {
	APIVersion string          `json:"apiVersion"`
	Kind       string          `json:"kind"`
	Metadata   objectMeta      `json:"metadata"`
	Spec       json.RawMessage `json:"spec"`
	Status     json.RawMessage `json:"status,omitempty"`
}

func (p *peer) workloadEntries() ([]kubeObject, error) {
	cfgs := p.fake.Store().List(gvk.WorkloadEntry, "")
	sort.Slice(cfgs, func(i, j int) bool {
		if cfgs[i].Namespace != cfgs[j].Namespace {
			return cfgs[i].Namespace < cfgs[j].Namespace
		}
		return cfgs[i].Name < cfgs[j].Name
	})
	out := make([]kubeObject, 0, len(cfgs))
	for _, c := range cfgs {
		spec, err := config.ToJSON(c.Spec)
		if err != nil {
			return nil, fmt.Errorf("%s/%s spec: %v", c.Namespace, c.Name, err)
		}
		o := kubeObject{
			APIVersion: "networking.istio.io/v1",
			Kind:       "WorkloadEntry",
			Metadata: objectMeta{
				Name:            c.Name,
				Namespace:       c.Namespace,
				Labels:          c.Labels,
				Annotations:     c.Annotations,
				OwnerReferences: c.OwnerReferences,
				ResourceVersion: c.ResourceVersion,
				Generation:      c.Generation,
			},
			Spec: spec,
		}
		if !c.CreationTimestamp.IsZero() {
			o.Metadata.CreationTimestamp = c.CreationTimestamp.UTC().Format(time.RFC3339)
		}
		if c.Status != nil {
			st, err := config.ToJSON(c.Status)
			if err != nil {
				return nil, fmt.Errorf("%s/%s status: %v", c.Namespace, c.Name, err)
			}
			if string(st) != "{}" && string(st) != "null" {
				o.Status = st
			}
		}
		out = append(out, o)
	}
	return out, nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func httpError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, msg+"\n")
}

func (p *peer) yamlHandler(counted string, fn func([]doc) (int, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			httpError(w, http.StatusMethodNotAllowed, "POST a YAML body")
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
		if err != nil {
			httpError(w, http.StatusBadRequest, err.Error())
			return
		}
		docs, err := splitDocs("request", body)
		if err != nil {
			httpError(w, http.StatusBadRequest, err.Error())
			return
		}
		p.mu.Lock()
		n, err := safeCall(func() (int, error) { return fn(docs) })
		p.mu.Unlock()
		if err != nil {
			httpError(w, http.StatusBadRequest, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, map[string]int{counted: n})
	}
}

// safeCall turns a panic in istio's code on odd input into an error: bad input must not kill the peer.
func safeCall(fn func() (int, error)) (n int, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return fn()
}

func (p *peer) adminMux(metrics http.Handler) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/ready", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, "ready\n")
	})
	if metrics != nil {
		mux.Handle("/metrics", metrics)
	}
	mux.HandleFunc("/apply", p.yamlHandler("applied", p.applyDocs))
	mux.HandleFunc("/delete", p.yamlHandler("deleted", p.deleteDocs))
	mux.HandleFunc("/workloadentries", func(w http.ResponseWriter, _ *http.Request) {
		list, err := p.workloadEntries()
		if err != nil {
			httpError(w, http.StatusInternalServerError, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, list)
	})
	mux.Handle("/debug/", p.fake.DiscoveryDebug)
	return mux
}

// ---- main ---------------------------------------------------------------------------------------

func main() {
	o := parseFlags()

	logOpts := istiolog.DefaultOptions()
	logOpts.OutputPaths = []string{"stderr"}
	logOpts.ErrorOutputPaths = []string{"stderr"}
	if err := istiolog.Configure(logOpts); err != nil {
		logf("configuring logs: %v", err)
	}
	metricsHandler, err := monitoring.RegisterPrometheusExporter(nil, nil)
	if err != nil {
		logf("metrics exporter: %v (no /metrics)", err)
	}

	// istiod's settings, read by the discovery server when it is built and when proxies connect.
	features.RequestLimit = o.maxRPS
	features.ValidateWorkloadEntryIdentity = o.validateIdentity
	features.GlobalSendUnhealthyEndpoints.Store(o.sendUnhealthy)
	features.WorkloadEntryCleanupGracePeriod = o.gracePeriod

	docs, err := readInputs(o.files)
	if err != nil {
		logf("%v", err)
		os.Exit(2)
	}
	var istioConfigs []config.Config
	var kubeObjects []runtime.Object
	for _, d := range docs {
		switch {
		case d.isIstio():
			// Checked one by one, so a bad document is named and is a clear exit 2 instead of a
			// Fatal inside the fake server. istiod's validation would refuse it too.
			cfgs, _, err := crd.ParseInputs(string(d.raw))
			if err != nil {
				logf("bad input: %s: %v", d, err)
				os.Exit(2)
			}
			if len(cfgs) == 0 {
				logf("skipping %s: kind not known to istiod's config store", d)
				continue
			}
			for i := range cfgs {
				cfgs[i].Domain = domainSuffix
			}
			istioConfigs = append(istioConfigs, cfgs...)
		case d.isCore():
			obj, _, err := kubelib.IstioCodec.UniversalDeserializer().Decode(d.raw, nil, nil)
			if err != nil {
				logf("bad input: %s: %v", d, err)
				os.Exit(2)
			}
			if svc, ok := obj.(*corev1.Service); ok {
				defaultServicePorts(svc)
			}
			kubeObjects = append(kubeObjects, obj)
		default:
			logf("skipping %s: kind not supported by the peer", d)
		}
	}

	fakeOpts := xds.FakeOptions{
		Configs:           istioConfigs,
		KubernetesObjects: kubeObjects,
		DebounceTime:      o.debounce,
	}
	if o.meshNetworks != "" {
		data, err := os.ReadFile(o.meshNetworks)
		if err != nil {
			logf("%v", err)
			os.Exit(2)
		}
		nw, err := mesh.ParseMeshNetworks(string(data))
		if err != nil {
			logf("%s: %v", o.meshNetworks, err)
			os.Exit(2)
		}
		fakeOpts.NetworksWatcher = meshwatcher.NewFixedNetworksWatcher(nw)
	}

	var authn *jwtAuthenticator
	if o.jwtPublicKey != "" || o.jwks != "" {
		authn, err = newJWTAuthenticator(o.jwtPublicKey, o.jwks, o.jwtAudience)
		if err != nil {
			logf("%v", err)
			os.Exit(2)
		}
		// Plaintext stands in for istiod's TLS port: authenticate every stream.
		security.AuthPlaintext = true
	}

	xdsListener, err := net.Listen("tcp", o.xdsAddress)
	if err != nil {
		logf("xds listen: %v", err)
		os.Exit(2)
	}
	adminListener, err := net.Listen("tcp", o.adminAddress)
	if err != nil {
		logf("admin listen: %v", err)
		os.Exit(2)
	}
	// The fake builds its gRPC server without options (no keepalive, grpc-go's defaults), so it
	// gets an in-memory listener nobody dials, and the real listener is served by a gRPC server
	// built as istiod builds its own (pilot/pkg/grpc.ServerOptions: keepalive pings and their
	// enforcement, stream and message limits) around the same DiscoveryServer.
	fakeOpts.ListenerBuilder = func() (net.Listener, error) { return bufconn.Listen(1 << 20), nil }

	t := &failer{}
	fake := xds.NewFakeDiscoveryServer(t, fakeOpts)
	if authn != nil {
		fake.Discovery.Authenticators = []security.Authenticator{authn}
	}
	xdsServer := grpc.NewServer(istiogrpc.ServerOptions(&o.keepalive, xdspkg.RecordRecvSize)...)
	fake.Discovery.Register(xdsServer)
	go func() {
		if err := xdsServer.Serve(xdsListener); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			logf("xds server: %v", err)
		}
	}()
	t.Cleanup(xdsServer.Stop)

	p := &peer{fake: fake}
	admin := &http.Server{Handler: p.adminMux(metricsHandler), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := admin.Serve(adminListener); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logf("admin server: %v", err)
		}
	}()

	ready, _ := json.Marshal(struct {
		Ready bool   `json:"ready"`
		XDS   string `json:"xds"`
		Admin string `json:"admin"`
	}{true, xdsListener.Addr().String(), adminListener.Addr().String()})
	fmt.Fprintln(os.Stdout, string(ready))
	logf("serving xDS on %s, admin on %s (debounce %v, max %v new streams/s, validate identity %v, auth %v)",
		xdsListener.Addr(), adminListener.Addr(), o.debounce, o.maxRPS, o.validateIdentity, authn != nil)

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	stop := make(chan string, 1)
	go func() { stop <- (<-sig).String() }()
	if o.exitOnStdinEOF {
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			stop <- "stdin closed"
		}()
	}
	logf("%s: stopping", <-stop)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	_ = admin.Shutdown(ctx)
	cancel()
	done := make(chan struct{})
	go func() { t.runCleanups(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		logf("cleanup timed out")
	}
	os.Exit(0)
}

// defaultServicePorts does what the Kubernetes API server does to a Service it stores and the
// fake client does not: a port without a targetPort targets the port's own number. istiod's
// port mapping for WorkloadEntries depends on it (a numeric targetPort lets an entry's port of
// the service port's name win).
func defaultServicePorts(svc *corev1.Service) {
	for i := range svc.Spec.Ports {
		p := &svc.Spec.Ports[i]
		if p.TargetPort.Type == intstr.Int && p.TargetPort.IntVal == 0 {
			p.TargetPort = intstr.FromInt32(p.Port)
		}
	}
}
