// Command istiolb is an interop test harness (not product code). It runs istiod's
// real locality load-balancing code from istio.io/istio
// (pilot/pkg/networking/core/loadbalancer) on cases read from stdin, so that
// xdsim's TypeScript implementation can be compared against it.
//
// It reads ONE JSON document from stdin and writes ONE JSON document to stdout.
//
// Input:
//
//	{"cases": [{
//	  "name": "failover-with-outlier",
//	  "clusterName": "outbound|80||svc.ns.svc.cluster.local",   // optional, default shown
//	  "proxy": {
//	    "locality": {"region": "r1", "zone": "z1", "subZone": "s1"}, // or the string "r1/z1/s1"
//	    "labels": {"k": "v"}                                         // proxy (workload) labels
//	  },
//	  "enableFailover": true,        // true = the DestinationRule has outlierDetection
//	  "localityLbSetting": {...},    // DR trafficPolicy.loadBalancer.localityLbSetting, Istio JSON
//	                                 // form: {"enabled":true,"distribute":[{"from":"r1/z1/*","to":{"r1/*":80,"r2/*":20}}],
//	                                 //        "failover":[{"from":"r1","to":"r2"}],"failoverPriority":["k","k2=v"]}
//	                                 // omitted/null = DR has no localityLbSetting
//	  "meshLocalityLbSetting": {...},// optional MeshConfig.localityLbSetting; omitted/null = none.
//	                                 // NB: istiod's built-in default mesh config is {"enabled":true}.
//	  "entryPoint": "endpointBuilder", // optional; "endpointBuilder" (default) or "applyLocalityLoadBalancer"
//	  "clusterId": "",                 // optional; the cluster ID AugmentLabels adds as topology.istio.io/cluster
//	  "augmentTopologyLabels": false,  // optional; apply istio's labelutil.AugmentLabels to proxy and
//	                                   // endpoint labels (adds topology.kubernetes.io/region, .../zone,
//	                                   // topology.istio.io/subzone from the locality), as istiod's
//	                                   // registries and ads.go setTopologyLabels do
//	  "preserveGroupOrder": false,     // optional; true = do not merge/sort groups by locality label
//	  "groups": [{
//	    "locality": {"region": "r1", "zone": "z1", "subZone": "s1"},  // or "r1/z1/s1"
//	    "endpoints": [{"address": "10.0.0.1", "port": 8080, "weight": 1, "labels": {"k": "v"}}]
//	  }]
//	}]}
//
// Output:
//
//	{"results": [{"name": "...", "cla": <envoy.config.endpoint.v3.ClusterLoadAssignment as protojson,
//	               lowerCamelCase, unpopulated fields omitted>, "error": ""}]}
//
// On a per-case failure (bad input or a panic inside istio code) "cla" is null and
// "error" says why; other cases still run. A malformed top-level document makes the
// program exit 1 with a message on stderr.
//
// Preprocessing done here mirrors istiod (file paths relative to istio.io/istio):
//   - pilot/pkg/xds/endpoints/endpoint_builder.go (*EndpointBuilder).generate: endpoints are
//     grouped by their locality label string (kube format "region/zone/subzone"), groups are
//     sorted by that string (sort.Strings), each LbEndpoint gets load_balancing_weight =
//     IstioEndpoint.GetLoadBalancingWeight() (weight 0/absent -> 1), and each LocalityLbEndpoints
//     gets load_balancing_weight = sum of its endpoints' weights (saturating at MaxUint32);
//     locality = util.ConvertLocality(label).
//   - the same file, BuildClusterLoadAssignment: the CLA is shallow-cloned with
//     util.CloneClusterLoadAssignment, WrappedLocalityLbEndpoints{IstioEndpoints,
//     LocalityLbEndpoints: clone.Endpoints[i]} are built, the effective setting is resolved with
//     loadbalancer.GetEffectiveLbSetting(mesh, nil, drLoadBalancer, nil) (nil => CLA returned
//     unchanged, e.g. enabled:false), and LBSettings.ApplyToLoadAssignment(cla, wrapped,
//     proxyLocality, proxyLabels, enableFailover) is called.
//   - entryPoint "applyLocalityLoadBalancer" skips GetEffectiveLbSetting and calls
//     loadbalancer.ApplyLocalityLoadBalancer(cla, wrapped, locality, proxyLabels,
//     localityLbSetting, enableFailover) directly (no enabled:false check).
//
// Not replicated (irrelevant to priorities/weights): endpoint metadata (istio filter
// metadata, transport socket match), health status, endpoint filtering (network view,
// cluster-local, unhealthy/draining), split-horizon network gateways, HBONE tunnelling.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"runtime/debug"
	"sort"
	"strings"

	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"google.golang.org/protobuf/encoding/protojson"
	wrappers "google.golang.org/protobuf/types/known/wrapperspb"

	"istio.io/api/networking/v1alpha3"
	"istio.io/istio/pilot/pkg/model"
	"istio.io/istio/pilot/pkg/networking/core/loadbalancer"
	"istio.io/istio/pilot/pkg/networking/util"
	labelutil "istio.io/istio/pilot/pkg/serviceregistry/util/label"
	"istio.io/istio/pkg/cluster"
	"istio.io/istio/pkg/config/labels"
)

type input struct {
	Cases []tcase `json:"cases"`
}

type tcase struct {
	Name                  string          `json:"name"`
	ClusterName           string          `json:"clusterName"`
	Proxy                 proxyIn         `json:"proxy"`
	EnableFailover        bool            `json:"enableFailover"`
	LocalityLbSetting     json.RawMessage `json:"localityLbSetting"`
	MeshLocalityLbSetting json.RawMessage `json:"meshLocalityLbSetting"`
	EntryPoint            string          `json:"entryPoint"`
	AugmentTopologyLabels bool            `json:"augmentTopologyLabels"`
	ClusterID             string          `json:"clusterId"`
	PreserveGroupOrder    bool            `json:"preserveGroupOrder"`
	Groups                []groupIn       `json:"groups"`
}

type proxyIn struct {
	Locality json.RawMessage   `json:"locality"`
	Labels   map[string]string `json:"labels"`
}

type groupIn struct {
	Locality  json.RawMessage `json:"locality"`
	Endpoints []endpointIn    `json:"endpoints"`
}

type endpointIn struct {
	Address string            `json:"address"`
	Port    uint32            `json:"port"`
	Weight  uint32            `json:"weight"`
	Labels  map[string]string `json:"labels"`
}

type localityObj struct {
	Region  string `json:"region"`
	Zone    string `json:"zone"`
	SubZone string `json:"subZone"`
	// also accept proto name
	SubZoneAlt string `json:"sub_zone"`
}

type output struct {
	Results []result `json:"results"`
}

type result struct {
	Name  string          `json:"name"`
	CLA   json.RawMessage `json:"cla"`
	Error string          `json:"error"`
}

// localityLabel turns the JSON locality (object or "r/z/s" string) into istio's
// locality label string. Objects use the kube registry format "region/zone/subzone"
// (pilot/pkg/serviceregistry/kube/controller/controller.go getPodLocality).
func localityLabel(raw json.RawMessage) (string, error) {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" {
		return "", nil
	}
	if strings.HasPrefix(s, "\"") {
		var str string
		if err := json.Unmarshal(raw, &str); err != nil {
			return "", err
		}
		return str, nil
	}
	var o localityObj
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&o); err != nil {
		return "", fmt.Errorf("locality: %v", err)
	}
	sz := o.SubZone
	if sz == "" {
		sz = o.SubZoneAlt
	}
	if o.Region == "" && o.Zone == "" && sz == "" {
		return "", nil
	}
	return o.Region + "/" + o.Zone + "/" + sz, nil
}

func parseSetting(raw json.RawMessage) (*v1alpha3.LocalityLoadBalancerSetting, error) {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" {
		return nil, nil
	}
	out := &v1alpha3.LocalityLoadBalancerSetting{}
	if err := protojson.Unmarshal(raw, out); err != nil {
		return nil, err
	}
	return out, nil
}

type group struct {
	label string
	eps   []*model.IstioEndpoint
}

func runCase(c tcase) (cla *endpoint.ClusterLoadAssignment, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v\n%s", r, debug.Stack())
			cla = nil
		}
	}()

	drSetting, err := parseSetting(c.LocalityLbSetting)
	if err != nil {
		return nil, fmt.Errorf("localityLbSetting: %v", err)
	}
	meshSetting, err := parseSetting(c.MeshLocalityLbSetting)
	if err != nil {
		return nil, fmt.Errorf("meshLocalityLbSetting: %v", err)
	}
	proxyLabel, err := localityLabel(c.Proxy.Locality)
	if err != nil {
		return nil, fmt.Errorf("proxy.%v", err)
	}
	// Proxy locality as istiod holds it (model.Proxy.Locality, a *core.Locality).
	proxyLocality := util.ConvertLocality(proxyLabel)
	proxyLabels := c.Proxy.Labels
	if c.AugmentTopologyLabels {
		// pilot/pkg/xds/ads.go setTopologyLabels
		proxyLabels = labelutil.AugmentLabels(proxyLabels, cluster.ID(c.ClusterID), util.LocalityToString(proxyLocality), "", "")
	}

	clusterName := c.ClusterName
	if clusterName == "" {
		clusterName = "outbound|80||svc.ns.svc.cluster.local"
	}

	// Build IstioEndpoints and group them by locality label (endpoint_builder.go generate).
	var groups []*group
	byLabel := map[string]*group{}
	for gi, g := range c.Groups {
		lbl, err := localityLabel(g.Locality)
		if err != nil {
			return nil, fmt.Errorf("groups[%d].%v", gi, err)
		}
		grp := byLabel[lbl]
		if grp == nil || c.PreserveGroupOrder {
			grp = &group{label: lbl}
			byLabel[lbl] = grp
			groups = append(groups, grp)
		}
		for _, e := range g.Endpoints {
			epLabels := labels.Instance(e.Labels)
			if c.AugmentTopologyLabels {
				epLabels = labelutil.AugmentLabels(epLabels, cluster.ID(c.ClusterID), lbl, "", "")
			}
			grp.eps = append(grp.eps, &model.IstioEndpoint{
				Labels:       epLabels,
				Addresses:    []string{e.Address},
				EndpointPort: e.Port,
				LbWeight:     e.Weight,
				Locality:     model.Locality{Label: lbl},
			})
		}
	}
	if !c.PreserveGroupOrder && len(groups) >= 2 {
		sort.SliceStable(groups, func(i, j int) bool { return groups[i].label < groups[j].label })
	}

	orig := &endpoint.ClusterLoadAssignment{ClusterName: clusterName}
	for _, g := range groups {
		if len(g.eps) == 0 {
			// istiod never creates a locality without endpoints
			continue
		}
		lle := &endpoint.LocalityLbEndpoints{
			Locality:    util.ConvertLocality(g.label),
			LbEndpoints: make([]*endpoint.LbEndpoint, 0, len(g.eps)),
		}
		var weight uint32
		for _, ep := range g.eps {
			w := ep.GetLoadBalancingWeight()
			lle.LbEndpoints = append(lle.LbEndpoints, &endpoint.LbEndpoint{
				HostIdentifier: &endpoint.LbEndpoint_Endpoint{Endpoint: &endpoint.Endpoint{
					Address: util.BuildAddress(ep.Addresses[0], ep.EndpointPort),
				}},
				LoadBalancingWeight: &wrappers.UInt32Value{Value: w},
			})
			if math.MaxUint32-w < weight {
				weight = math.MaxUint32
			} else {
				weight += w
			}
		}
		lle.LoadBalancingWeight = &wrappers.UInt32Value{Value: weight}
		orig.Endpoints = append(orig.Endpoints, lle)
	}
	// groups without endpoints were skipped above; keep istio endpoints aligned
	nonEmpty := make([]*group, 0, len(groups))
	for _, g := range groups {
		if len(g.eps) > 0 {
			nonEmpty = append(nonEmpty, g)
		}
	}

	l := util.CloneClusterLoadAssignment(orig)
	wrapped := make([]*loadbalancer.WrappedLocalityLbEndpoints, len(nonEmpty))
	for i := range nonEmpty {
		wrapped[i] = &loadbalancer.WrappedLocalityLbEndpoints{
			IstioEndpoints:      nonEmpty[i].eps,
			LocalityLbEndpoints: l.Endpoints[i],
		}
	}

	switch c.EntryPoint {
	case "", "endpointBuilder":
		var lb *v1alpha3.LoadBalancerSettings
		if drSetting != nil {
			lb = &v1alpha3.LoadBalancerSettings{LocalityLbSetting: drSetting}
		}
		lbSettings := loadbalancer.GetEffectiveLbSetting(meshSetting, nil, lb, nil)
		if lbSettings == nil {
			return orig, nil
		}
		lbSettings.ApplyToLoadAssignment(l, wrapped, proxyLocality, proxyLabels, c.EnableFailover)
	case "applyLocalityLoadBalancer":
		loadbalancer.ApplyLocalityLoadBalancer(l, wrapped, proxyLocality, proxyLabels, drSetting, c.EnableFailover)
	default:
		return nil, fmt.Errorf("unknown entryPoint %q", c.EntryPoint)
	}
	return l, nil
}

func main() {
	data, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "read stdin:", err)
		os.Exit(1)
	}
	var in input
	if err := json.Unmarshal(data, &in); err != nil {
		fmt.Fprintln(os.Stderr, "parse input:", err)
		os.Exit(1)
	}
	out := output{Results: make([]result, 0, len(in.Cases))}
	mo := protojson.MarshalOptions{}
	for _, c := range in.Cases {
		r := result{Name: c.Name, CLA: json.RawMessage("null")}
		cla, err := runCase(c)
		if err != nil {
			r.Error = err.Error()
		} else {
			b, merr := mo.Marshal(cla)
			if merr != nil {
				r.Error = "marshal: " + merr.Error()
			} else {
				// protojson output is deliberately unstable in whitespace; normalise it.
				var buf bytes.Buffer
				if cerr := json.Compact(&buf, b); cerr != nil {
					r.Error = "compact: " + cerr.Error()
				} else {
					r.CLA = buf.Bytes()
				}
			}
		}
		out.Results = append(out.Results, r)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, "write:", err)
		os.Exit(1)
	}
}
