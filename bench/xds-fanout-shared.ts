// What the fan-out bench's processes agree on.
export const CLUSTER = 'outbound|8080||api.bench.svc.cluster.local';
export const LOCALITY = { region: 'r1', zone: 'z1', sub_zone: 's1' };
