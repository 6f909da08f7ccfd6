// istiod writes its connection annotations with Go's time.RFC3339Nano: UTC here, fractional
// seconds with trailing zeros dropped (none at all on a whole second).

/** Epoch ms -> `2025-01-02T03:04:05.12Z` as Go's RFC3339Nano formats a UTC time. */
export function rfc3339Nano(ms: number): string {
  const iso = new Date(ms).toISOString(); // 2025-01-02T03:04:05.120Z
  const dot = iso.lastIndexOf('.');
  const frac = iso.slice(dot + 1, -1).replace(/0+$/, '');
  return frac ? `${iso.slice(0, dot)}.${frac}Z` : `${iso.slice(0, dot)}Z`;
}
