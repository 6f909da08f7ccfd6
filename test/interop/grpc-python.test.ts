// Python grpcio, whose xDS client is gRPC C-core's (the one grpc C++, Ruby, PHP and Python share),
// resolving xds:/// through xdsim: the checks every proxyless client goes through
// (describeProxylessClient). Run with `npm run test:interop` (it installs grpcio from PyPI into a
// venv cached by test/interop/grpc-python/requirements.txt).
import { GRPC_PYTHON } from './proxyless-clients.js';
import { describeChildProxylessClient } from './proxyless-suite.js';

describeChildProxylessClient(GRPC_PYTHON);
