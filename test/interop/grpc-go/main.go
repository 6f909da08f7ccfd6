// A proxyless grpc-go client for xdsim's interop tests: it resolves xds:///<target> through the
// control plane named by GRPC_XDS_BOOTSTRAP_CONFIG and calls /xdsim.test.Echo/Who, whose reply is
// the name of the backend that served it. Driven over stdin, one command per line:
//
//	tally <n>   make n RPCs, print {"<backend>": count, ...} (failures as "error:<code>")
//	quit        exit
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/status"
	_ "google.golang.org/grpc/xds" // registers the xds:/// resolver and the xDS LB policies
)

// rawCodec sends and receives message bodies as they are: the Echo service has no proto.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return *(v.(*[]byte)), nil }
func (rawCodec) Unmarshal(data []byte, v any) error {
	*(v.(*[]byte)) = append([]byte(nil), data...)
	return nil
}
func (rawCodec) Name() string { return "xdsim-raw" }

var _ encoding.Codec = rawCodec{}

func who(conn *grpc.ClientConn, timeout time.Duration) string {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req := []byte{}
	var resp []byte
	err := conn.Invoke(ctx, "/xdsim.test.Echo/Who", &req, &resp, grpc.ForceCodec(rawCodec{}))
	if err != nil {
		return "error:" + status.Code(err).String()
	}
	return string(resp)
}

func tally(conn *grpc.ClientConn, n int, timeout time.Duration) map[string]int {
	counts := map[string]int{}
	var mu sync.Mutex
	const parallel = 20
	for i := 0; i < n; i += parallel {
		var wg sync.WaitGroup
		for j := i; j < n && j < i+parallel; j++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := who(conn, timeout)
				mu.Lock()
				counts[r]++
				mu.Unlock()
			}()
		}
		wg.Wait()
	}
	return counts
}

func main() {
	target := flag.String("target", "", "xds:/// target to dial")
	timeout := flag.Duration("timeout", 5*time.Second, "deadline of each RPC")
	flag.Parse()
	if *target == "" {
		fmt.Fprintln(os.Stderr, "-target is required")
		os.Exit(2)
	}
	conn, err := grpc.NewClient(*target, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		fmt.Fprintln(os.Stderr, "dial:", err)
		os.Exit(1)
	}
	defer conn.Close()
	fmt.Println(`{"ready":true}`)
	in := bufio.NewScanner(os.Stdin)
	out := json.NewEncoder(os.Stdout)
	for in.Scan() {
		fields := strings.Fields(in.Text())
		if len(fields) == 0 {
			continue
		}
		switch fields[0] {
		case "tally":
			n := 1
			if len(fields) > 1 {
				if v, err := strconv.Atoi(fields[1]); err == nil && v > 0 {
					n = v
				}
			}
			_ = out.Encode(tally(conn, n, *timeout))
		case "quit":
			return
		default:
			fmt.Fprintln(os.Stderr, "unknown command:", fields[0])
		}
	}
}
