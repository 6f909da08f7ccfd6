// grpc-java (io.grpc:grpc-xds), a third independent proxyless xDS client, resolving xds:///
// through xdsim: the checks every proxyless client goes through (describeProxylessClient). Run
// with `npm run test:interop` (it builds test/interop/grpc-java with Maven; cached by source hash).
import { GRPC_JAVA } from './proxyless-clients.js';
import { describeChildProxylessClient } from './proxyless-suite.js';

describeChildProxylessClient(GRPC_JAVA);
