// Port protocols as istiod reads them (pkg/config/kube ConvertProtocol, pkg/config/protocol Parse).
import { describe, expect, it } from 'vitest';
import { isHttpOrSniffed, kubePortProtocol, parseProtocol } from '../../src/model/protocol.js';

describe('Kubernetes port protocol (ConvertProtocol)', () => {
  it.each([
    ['name prefix', { port: 80, name: 'http-web' }, 'HTTP'],
    ['whole name', { port: 80, name: 'grpc' }, 'GRPC'],
    ['grpc-web before the dash split', { port: 80, name: 'grpc-web-x' }, 'GRPC-Web'],
    ['case-insensitive', { port: 80, name: 'HTTP2' }, 'HTTP2'],
    ['unknown name: sniffed', { port: 80, name: 'web' }, 'UnsupportedProtocol'],
    ['no name: sniffed', { port: 8080 }, 'UnsupportedProtocol'],
    ['unnamed well-known port: TCP', { port: 3306 }, 'TCP'],
    ['named well-known port keeps its name', { port: 3306, name: 'http' }, 'HTTP'],
    ['appProtocol wins over the name', { port: 80, name: 'tcp', appProtocol: 'http' }, 'HTTP'],
    ['kubernetes.io/h2c', { port: 80, appProtocol: 'kubernetes.io/h2c' }, 'HTTP2'],
    ['UDP', { port: 53, name: 'dns', protocol: 'UDP' }, 'UDP'],
  ] as const)('%s', (_n, port, want) => {
    expect(kubePortProtocol(port)).toBe(want);
  });
});

describe('HTTP or sniffed (IsHTTPOrSniffed)', () => {
  it.each([
    ['HTTP', true], ['HTTP2', true], ['GRPC', true], ['GRPC-Web', true], ['HTTP_PROXY', true], ['whatever', true],
    ['TCP', false], ['TLS', false], ['HTTPS', false], ['MySQL', false], ['Redis', false], ['Mongo', false], ['UDP', false],
  ] as const)('%s -> %s', (name, want) => {
    expect(isHttpOrSniffed(parseProtocol(name))).toBe(want);
  });
});
