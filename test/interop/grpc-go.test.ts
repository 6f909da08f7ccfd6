// grpc-go, the reference proxyless xDS client, resolving xds:/// through xdsim: the same checks
// as the grpc-js-xds test (describeProxylessClient), from a second, independent implementation. Run with
// `npm run test:interop` (it builds test/interop/grpc-go, which needs Go and its module proxy;
// the binary is cached by source hash). The client and its stdin protocol: test/interop/grpc-go/main.go,
// driven as every child-process flavour is (proxyless-clients.ts, proxyless-suite.ts).
import { GRPC_GO } from './proxyless-clients.js';
import { describeChildProxylessClient } from './proxyless-suite.js';

describeChildProxylessClient(GRPC_GO);
