// A token command for tests (`--token-command`): prints the token of $SERVICE_ACCOUNT in
// $NAMESPACE, signed with the PKCS#8 key in $XDSIM_TEST_SIGNING_KEY, as `kubectl create token`
// prints one signed by a cluster's key.
import { readFileSync } from 'node:fs';
import { TokenIssuer } from '../../src/security/token-issuer.js';

const { XDSIM_TEST_SIGNING_KEY: keyFile, NAMESPACE: ns, SERVICE_ACCOUNT: sa } = process.env;
if (!keyFile || !ns || !sa) {
  process.stderr.write('mint-token: XDSIM_TEST_SIGNING_KEY, NAMESPACE and SERVICE_ACCOUNT must be set\n');
  process.exit(2);
}
process.stdout.write(`${await TokenIssuer.fromPrivateKeyPem(readFileSync(keyFile, 'utf8')).mint(ns, sa)}\n`);
