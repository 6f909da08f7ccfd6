// gcp-peer: go-control-plane's ADS server over its LinearCache, as a peer for xdsim's fan-out
// benchmark. It serves ClusterLoadAssignments that it is handed, as encoded protobuf bytes, over
// HTTP (POST /cla): the bench posts exactly the bytes xdsim would send for the mesh, so both
// servers push the same resource and only the server differs. The LinearCache marshals a
// resource once per version and shares it across every watching stream, which is the
// go-control-plane setup that compares fairly with xdsim's encode-once fan-out.
//
//	gcp-peer --xds-address 127.0.0.1:0 --admin-address 127.0.0.1:0 [--exit-on-stdin-eof]
//
// Prints one JSON line {"ready":true,"xds":"host:port","admin":"host:port"} on stdout once both
// listen. Admin routes: GET /ready, POST /cla (body: a ClusterLoadAssignment, binary protobuf),
// GET /stats ({"streams":N}), POST /gc (runtime.GC + FreeOSMemory, as the bench's Node servers
// collect garbage before their RSS is read).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/protobuf/proto"
)

func main() {
	xdsAddr := flag.String("xds-address", "127.0.0.1:0", "ADS listen address")
	adminAddr := flag.String("admin-address", "127.0.0.1:0", "admin HTTP listen address")
	exitOnEOF := flag.Bool("exit-on-stdin-eof", false, "exit when stdin closes (the parent died)")
	flag.Parse()

	ctx := context.Background()
	cache := cachev3.NewLinearCache(resourcev3.EndpointType)
	var streams atomic.Int64
	callbacks := serverv3.CallbackFuncs{
		StreamOpenFunc: func(context.Context, int64, string) error {
			streams.Add(1)
			return nil
		},
		StreamClosedFunc: func(int64, *corev3.Node) { streams.Add(-1) },
	}
	srv := serverv3.NewServer(ctx, cache, callbacks)

	// go-control-plane's own example server options: many streams per connection allowed,
	// keepalive enforcement lenient enough for idle bench clients.
	grpcServer := grpc.NewServer(
		grpc.MaxConcurrentStreams(1_000_000),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 30 * time.Second, Timeout: 5 * time.Second}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 30 * time.Second, PermitWithoutStream: true}),
	)
	discoveryv3.RegisterAggregatedDiscoveryServiceServer(grpcServer, srv)

	xl, err := net.Listen("tcp", *xdsAddr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "gcp-peer: xds listen: %v\n", err)
		os.Exit(2)
	}
	al, err := net.Listen("tcp", *adminAddr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "gcp-peer: admin listen: %v\n", err)
		os.Exit(2)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("/ready", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("/cla", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "POST a ClusterLoadAssignment", http.StatusMethodNotAllowed)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		cla := &endpointv3.ClusterLoadAssignment{}
		if err := proto.Unmarshal(body, cla); err != nil {
			http.Error(w, "not a ClusterLoadAssignment: "+err.Error(), http.StatusBadRequest)
			return
		}
		if cla.GetClusterName() == "" {
			http.Error(w, "cluster_name is empty", http.StatusBadRequest)
			return
		}
		if err := cache.UpdateResource(cla.GetClusterName(), cla); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("/stats", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]int64{"streams": streams.Load()})
	})
	mux.HandleFunc("/gc", func(w http.ResponseWriter, _ *http.Request) {
		runtime.GC()
		debug.FreeOSMemory()
		w.WriteHeader(http.StatusNoContent)
	})

	go func() {
		if err := grpcServer.Serve(xl); err != nil {
			fmt.Fprintf(os.Stderr, "gcp-peer: serve: %v\n", err)
			os.Exit(1)
		}
	}()
	go func() { _ = http.Serve(al, mux) }()
	if *exitOnEOF {
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			os.Exit(0)
		}()
	}
	line, _ := json.Marshal(map[string]any{"ready": true, "xds": xl.Addr().String(), "admin": al.Addr().String()})
	fmt.Println(string(line))
	select {}
}
