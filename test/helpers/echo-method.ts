// The echo backends' one RPC, /xdsim.test.Echo/Who (raw bytes both ways: the backend's name comes
// back). Its own module so a client child process can use it without importing vitest.
const bytes = (b: Buffer) => b;
export const whoMethod = {
  path: '/xdsim.test.Echo/Who',
  requestStream: false,
  responseStream: false,
  requestSerialize: bytes,
  requestDeserialize: bytes,
  responseSerialize: bytes,
  responseDeserialize: bytes,
};
